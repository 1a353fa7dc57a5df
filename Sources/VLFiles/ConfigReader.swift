import Foundation

/// Reads the fields of a Hugging Face `config.json` object with the quirks found in the wild:
/// numbers written as 1e-05 or 2.0, `null` meaning "the default", and errors that name the file,
/// the key and what was expected.
public struct ConfigReader {
    public let values: [String: Any]
    /// Where the values came from, for error messages (`config.json`, `config.json: vision_config`).
    public let source: String

    public init(_ values: [String: Any], source: String) {
        self.values = values
        self.source = source
    }

    /// Parses a `config.json` file.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ConfigError("cannot read \(url.path): \(error.localizedDescription)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let dict = object as? [String: Any] else {
            throw ConfigError("\(url.path) is not a JSON object")
        }
        self.init(dict, source: url.lastPathComponent)
    }

    public func has(_ key: String) -> Bool { values[key] != nil && !(values[key] is NSNull) }

    public func int(_ key: String, _ fallback: Int) throws -> Int { try optionalInt(key) ?? fallback }

    public func optionalInt(_ key: String) throws -> Int? {
        guard let v = present(key) else { return nil }
        if let n = jsonInteger(v) { return n }
        throw mismatch(key, "an integer", v)
    }

    public func float(_ key: String, _ fallback: Float) throws -> Float {
        guard let v = present(key) else { return fallback }
        if let n = v as? NSNumber, !isJSONBoolean(v) { return n.floatValue }
        throw mismatch(key, "a number", v)
    }

    public func string(_ key: String, _ fallback: String) throws -> String { try optionalString(key) ?? fallback }

    public func optionalString(_ key: String) throws -> String? {
        guard let v = present(key) else { return nil }
        if let s = v as? String { return s }
        throw mismatch(key, "a string", v)
    }

    public func bool(_ key: String, _ fallback: Bool) throws -> Bool {
        guard let v = present(key) else { return fallback }
        if isJSONBoolean(v), let b = v as? Bool { return b }
        throw mismatch(key, "true or false", v)
    }

    /// An integer or a list of integers (e.g. `eos_token_id`, `vision_feature_layer`).
    public func ints(_ key: String) throws -> [Int]? {
        guard let v = present(key) else { return nil }
        if let list = v as? [Any] {
            return try list.map { item in
                guard let n = jsonInteger(item) else { throw mismatch(key, "a list of integers", v) }
                return n
            }
        }
        return [try int(key, 0)]
    }

    /// A string or a list of strings (e.g. `architectures`).
    public func strings(_ key: String) throws -> [String]? {
        guard let v = present(key) else { return nil }
        if let s = v as? String { return [s] }
        guard let list = v as? [Any], let strings = list as? [String] else {
            throw mismatch(key, "a list of strings", v)
        }
        return strings
    }

    /// A nested object (`vision_config`); nil when absent.
    public func sub(_ key: String) throws -> ConfigReader? {
        guard let v = present(key) else { return nil }
        guard let d = v as? [String: Any] else { throw mismatch(key, "an object", v) }
        return ConfigReader(d, source: "\(source): \(key)")
    }

    private func present(_ key: String) -> Any? {
        guard let v = values[key], !(v is NSNull) else { return nil }
        return v
    }

    private func mismatch(_ key: String, _ expected: String, _ found: Any) -> ConfigError {
        ConfigError("\(source): \"\(key)\" should be \(expected), found \(found)")
    }
}

/// A config that cannot be used, with the reason.
public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
