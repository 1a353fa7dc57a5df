/// A problem with a GGUF file, naming the file and what is wrong.
public struct GGUFError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String
    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }
    public var description: String { "\(path): \(problem)" }
}

/// The type ids of GGUF metadata values (`enum gguf_type` in gguf.h).
public enum GGUFValueType: UInt32, CaseIterable, Sendable {
    case uint8 = 0, int8, uint16, int16, uint32, int32, float32, bool, string, array, uint64, int64, float64

    /// The name gguf-dump prints ("UINT32", "STRING", …).
    public var name: String { String(describing: self).uppercased() }

    /// The fewest bytes a value of this type takes in a file (a string's length, an array's element type and
    /// count), which bounds how many of them the bytes left can hold.
    var minimumBytes: Int {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64, .string: return 8
        case .array: return 12
        }
    }
}

/// A GGUF metadata value. An array's elements all have one type in a file; arrays may nest. An empty array
/// does not keep the element type its file gave it (`GGUFWriter` writes empty arrays as arrays of uint8).
public enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32), float32(Float)
    case bool(Bool), string(String), array([GGUFValue]), uint64(UInt64), int64(Int64), float64(Double)

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        }
    }

    /// The type as gguf-dump prints it: "UINT32", "[STRING]", "[[INT32]]" (nested arrays by their first
    /// element), "ARRAY" for an empty array.
    public var typeName: String {
        guard case .array(let elements) = self else { return type.name }
        guard let first = elements.first else { return "ARRAY" }
        return "[\(first.typeName)]"
    }

    /// Any integer kind whose value fits Int.
    public var int: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(exactly: v)
        default: return nil
        }
    }

    /// float32, float64 and the integer kinds (a 64-bit integer beyond 2^53 rounds).
    public var double: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        case .uint64(let v): return Double(v)
        case .int64(let v): return Double(v)
        default: return int.map(Double.init)
        }
    }

    public var bool: Bool? {
        if case .bool(let v) = self { return v }
        return nil
    }

    public var string: String? {
        if case .string(let v) = self { return v }
        return nil
    }

    public var array: [GGUFValue]? {
        if case .array(let v) = self { return v }
        return nil
    }

    /// An array of strings (an empty array gives []).
    public var strings: [String]? { array.flatMap { elements in sequence(elements.map(\.string)) } }

    /// An array of integers that fit Int.
    public var ints: [Int]? { array.flatMap { elements in sequence(elements.map(\.int)) } }

    /// An array of numbers.
    public var doubles: [Double]? { array.flatMap { elements in sequence(elements.map(\.double)) } }
}

/// All the values, or nil if any is nil.
private func sequence<T>(_ values: [T?]) -> [T]? {
    var result: [T] = []
    result.reserveCapacity(values.count)
    for v in values {
        guard let v else { return nil }
        result.append(v)
    }
    return result
}
