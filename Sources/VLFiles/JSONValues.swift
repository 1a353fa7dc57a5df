import Foundation

/// Whether a value from JSONSerialization is a JSON boolean. (`NSNumber(1) is Bool` is true in
/// Foundation, so `is Bool` cannot tell 1 from true.)
public func isJSONBoolean(_ value: Any) -> Bool {
    guard let n = value as? NSNumber else { return false }
    return String(cString: n.objCType) == "c"
}

/// A JSON integer (or a float with an integral value, as some configs write them), not a boolean.
public func jsonInteger(_ value: Any) -> Int? {
    guard let n = value as? NSNumber, !isJSONBoolean(value) else { return nil }
    let d = n.doubleValue
    guard d == d.rounded(), abs(d) < 1e15 else { return nil }
    return Int(d)
}
