import Foundation

/// One `config.json` field of a config struct, declared once: its key, the property it fills, and so
/// both how it is read (the property's value is the default) and how it is written.
public struct ConfigField<Config> {
    public let key: String
    let read: (inout Config, ConfigReader) throws -> Void
    let write: (Config, inout [String: Any]) -> Void

    public static func int(_ key: String, _ path: WritableKeyPath<Config, Int>) -> ConfigField {
        ConfigField(
            key: key, read: { c, r in c[keyPath: path] = try r.int(key, c[keyPath: path]) },
            write: { c, o in o[key] = c[keyPath: path] })
    }

    /// An integer that may be absent or `null` (nil then; written as `null`).
    public static func optionalInt(_ key: String, _ path: WritableKeyPath<Config, Int?>) -> ConfigField {
        ConfigField(
            key: key, read: { c, r in c[keyPath: path] = try r.optionalInt(key) },
            write: { c, o in o[key] = c[keyPath: path] ?? NSNull() })
    }

    /// An integer or a list of integers (`eos_token_id`; none when absent), written as a single integer
    /// when there is one.
    public static func ints(_ key: String, _ path: WritableKeyPath<Config, [Int]>) -> ConfigField {
        ConfigField(
            key: key, read: { c, r in c[keyPath: path] = try r.ints(key) ?? [] },
            write: { c, o in
                let v = c[keyPath: path]
                o[key] = v.count == 1 ? v[0] : v
            })
    }

    /// A float, written with its shortest decimal form (1e-05, not 9.99999974737875e-06).
    public static func float(_ key: String, _ path: WritableKeyPath<Config, Float>) -> ConfigField {
        ConfigField(
            key: key, read: { c, r in c[keyPath: path] = try r.float(key, c[keyPath: path]) },
            write: { c, o in o[key] = decimal(c[keyPath: path]) })
    }

    public static func string(_ key: String, _ path: WritableKeyPath<Config, String>) -> ConfigField {
        ConfigField(
            key: key, read: { c, r in c[keyPath: path] = try r.string(key, c[keyPath: path]) },
            write: { c, o in o[key] = c[keyPath: path] })
    }

    public static func bool(_ key: String, _ path: WritableKeyPath<Config, Bool>) -> ConfigField {
        ConfigField(
            key: key, read: { c, r in c[keyPath: path] = try r.bool(key, c[keyPath: path]) },
            write: { c, o in o[key] = c[keyPath: path] })
    }
}

extension Array {
    /// Reads every field of the table into `config`.
    public func read<C>(into config: inout C, from r: ConfigReader) throws where Element == ConfigField<C> {
        for field in self { try field.read(&config, r) }
    }

    /// The table's fields of `config` as a JSON object.
    public func jsonObject<C>(of config: C) -> [String: Any] where Element == ConfigField<C> {
        var o: [String: Any] = [:]
        for field in self { field.write(config, &o) }
        return o
    }
}
