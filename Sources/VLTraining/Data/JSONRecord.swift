import Foundation

/// One JSON object of a dataset, with typed field access whose errors say which field is wrong and how.
struct JSONRecord {
    let fields: [String: Any]

    init(_ value: Any) throws {
        guard let fields = value as? [String: Any] else {
            throw EntryProblem("expected a JSON object, found \(JSONRecord.kind(of: value))")
        }
        self.fields = fields
    }

    func has(_ key: String) -> Bool { fields[key] != nil && !(fields[key] is NSNull) }

    /// A non-empty string field.
    func string(_ key: String) throws -> String {
        guard let value = fields[key], !(value is NSNull) else { throw EntryProblem("field \"\(key)\" is missing") }
        guard let text = value as? String else {
            throw EntryProblem("field \"\(key)\" should be a string, found \(JSONRecord.kind(of: value))")
        }
        guard !text.isEmpty else { throw EntryProblem("field \"\(key)\" is empty") }
        return text
    }

    /// The first of `keys` that is present, as a non-empty string.
    func string(oneOf keys: [String]) throws -> String {
        guard let key = keys.first(where: has) else {
            throw EntryProblem("field \(keys.map { "\"\($0)\"" }.joined(separator: " or ")) is missing")
        }
        return try string(key)
    }

    /// A string or integer field as text (LLaVA ids are either).
    func identifier(_ key: String) throws -> String {
        if let n = fields[key] as? Int, !JSONRecord.isBoolean(fields[key]!) { return String(n) }
        return try string(key)
    }

    /// An array field whose elements are all of type `T`.
    func array<T>(_ key: String, of _: T.Type, named element: String) throws -> [T] {
        guard let value = fields[key], !(value is NSNull) else { throw EntryProblem("field \"\(key)\" is missing") }
        guard let items = value as? [Any] else {
            throw EntryProblem("field \"\(key)\" should be an array, found \(JSONRecord.kind(of: value))")
        }
        return try items.enumerated().map { i, item in
            guard let typed = item as? T else {
                throw EntryProblem("\(key)[\(i)] should be \(element), found \(JSONRecord.kind(of: item))")
            }
            return typed
        }
    }

    static func kind(of value: Any) -> String {
        switch value {
        case is NSNull: return "null"
        case is String: return "a string"
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        case _ where isBoolean(value): return "a boolean"
        default: return "a number"
        }
    }

    /// JSONSerialization's booleans are NSNumbers of their own class (and `as? Int` accepts them).
    static func isBoolean(_ value: Any) -> Bool { type(of: value) == type(of: NSNumber(value: true) as Any) }
}
