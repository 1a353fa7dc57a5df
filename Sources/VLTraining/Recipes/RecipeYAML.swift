import Foundation
import Yams

extension Recipe {
    /// A recipe file's top-level object, the same for JSON and for YAML (`.yaml`, `.yml`), so that
    /// `--set` overrides and decoding treat both alike.
    static func object(of url: URL, data: Data) throws -> [String: Any] {
        guard ["yaml", "yml"].contains(url.pathExtension.lowercased()) else {
            guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw RecipeError("\(url.path): not a JSON object")
            }
            return object
        }
        let parsed: Any?
        do {
            // Timestamps stay text: a recipe has none, and JSON could not hold a date.
            parsed = try Yams.load(yaml: String(decoding: data, as: UTF8.self), Resolver.default.removing(.timestamp))
        } catch {
            throw RecipeError("\(url.path): not valid YAML: \(error)")
        }
        guard let object = jsonValue(parsed) as? [String: Any], JSONSerialization.isValidJSONObject(object) else {
            throw RecipeError("\(url.path): not a YAML mapping of recipe fields")
        }
        return object
    }

    /// Yams' values as JSONSerialization's: string keys, NSNull for null.
    private static func jsonValue(_ value: Any?) -> Any {
        switch value {
        case let mapping as [AnyHashable: Any]:
            return Dictionary(uniqueKeysWithValues: mapping.map { ("\($0.key)", jsonValue($0.value)) })
        case let sequence as [Any]: return sequence.map(jsonValue)
        case .none: return NSNull()
        case let scalar?: return scalar
        }
    }
}
