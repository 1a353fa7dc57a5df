import Foundation

/// A value passed to a template (messages, tools, `add_generation_prompt`, special tokens…).
/// Dictionaries keep their keys' order, as Python's do: `tojson` and `items()` follow it.
public indirect enum TemplateValue: Equatable, Sendable {
    case none, bool(Bool), int(Int), double(Double), string(String)
    case list([TemplateValue])
    case dict([String: TemplateValue], keys: [String])

    /// A dictionary with its keys in this order (the first of repeated keys wins).
    public static func object(_ pairs: [(String, TemplateValue)]) -> TemplateValue {
        var keys: [String] = [], values: [String: TemplateValue] = [:]
        for (k, v) in pairs where values[k] == nil {
            keys.append(k)
            values[k] = v
        }
        return .dict(values, keys: keys)
    }

    /// From JSONSerialization output. Its dictionaries have no order, so their keys are sorted;
    /// `TemplateValue(parsingJSON:)` keeps the order of the text.
    public init(json: Any?) {
        switch json {
        case nil, is NSNull: self = .none
        case let s as String: self = .string(s)
        case let n as NSNumber: self = TemplateValue(number: n)
        case let a as [Any]: self = .list(a.map { TemplateValue(json: $0) })
        case let d as [String: Any]: self = .dict(d.mapValues { TemplateValue(json: $0) }, keys: d.keys.sorted())
        default: self = .none
        }
    }

    private init(number n: NSNumber) {
        if String(cString: n.objCType) == "c" { self = .bool(n.boolValue); return }
        let d = n.doubleValue
        if d == d.rounded(), abs(d) < 1e15, !"\(n)".contains(".") { self = .int(n.intValue) } else { self = .double(d) }
    }

    /// Parses JSON text, keeping each object's key order (as Python's `json.loads` does).
    public init(parsingJSON text: String) throws {
        var parser = JSONReader(Array(text.utf8))
        self = try parser.document()
    }

    /// The value as a template prints it (Python's `str`).
    public var text: String { (try? Value(self, depthLimit: 1000))?.str ?? "" }
}

extension Value {
    /// A caller's value; nested deeper than `depthLimit` it is refused (before the walk gets deep).
    init(_ v: TemplateValue, depthLimit: Int) throws {
        guard depthLimit >= 0 else {
            throw TemplateError.limit("maxDepth", "a variable nested more than its limit of containers")
        }
        switch v {
        case .none: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .list(let l): self = .list(try l.map { try Value($0, depthLimit: depthLimit - 1) })
        case .dict(let d, let keys):
            var out = Dict()
            for k in keys { if let x = d[k] { out[k] = try Value(x, depthLimit: depthLimit - 1) } }
            for (k, x) in d where out[k] == nil { out[k] = try Value(x, depthLimit: depthLimit - 1) }
            self = .dict(out)
        }
    }
}

/// JSON text to `TemplateValue`, objects in order; nesting is bounded so no input overflows the stack.
struct JSONReader {
    let bytes: [UInt8]
    var i = 0
    var depth = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func document() throws -> TemplateValue {
        let v = try value()
        skipSpace()
        guard i == bytes.count else { throw fail("unexpected text after the JSON value") }
        return v
    }

    private func fail(_ what: String) -> TemplateError { TemplateError("JSON: \(what) at byte \(i)") }

    private mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    private mutating func value() throws -> TemplateValue {
        skipSpace()
        guard i < bytes.count else { throw fail("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try nested { try $0.object() }
        case UInt8(ascii: "["): return try nested { try $0.array() }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try word("true"); return .bool(true)
        case UInt8(ascii: "f"): try word("false"); return .bool(false)
        case UInt8(ascii: "n"): try word("null"); return .none
        default: return try number()
        }
    }

    private mutating func nested(_ body: (inout JSONReader) throws -> TemplateValue) throws -> TemplateValue {
        depth += 1
        defer { depth -= 1 }
        guard depth <= 512 else { throw fail("nesting deeper than 512") }
        return try body(&self)
    }

    private mutating func word(_ w: String) throws {
        let u = Array(w.utf8)
        guard i + u.count <= bytes.count, Array(bytes[i..<i + u.count]) == u else { throw fail("unexpected character") }
        i += u.count
    }

    private mutating func object() throws -> TemplateValue {
        i += 1
        var pairs: [(String, TemplateValue)] = []
        var index: [String: Int] = [:]
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a key") }
            let key = try string()
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            i += 1
            let v = try value()
            if let at = index[key] {
                pairs[at].1 = v  // a repeated key keeps its place and takes the last value, as in Python
            } else {
                index[key] = pairs.count
                pairs.append((key, v))
            }
            skipSpace()
            guard i < bytes.count else { throw fail("unexpected end") }
            i += 1
            if bytes[i - 1] == UInt8(ascii: "}") { return .object(pairs) }
            guard bytes[i - 1] == UInt8(ascii: ",") else { throw fail("expected ',' or '}'") }
        }
    }

    private mutating func array() throws -> TemplateValue {
        i += 1
        var items: [TemplateValue] = []
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .list(items) }
        while true {
            items.append(try value())
            skipSpace()
            guard i < bytes.count else { throw fail("unexpected end") }
            i += 1
            if bytes[i - 1] == UInt8(ascii: "]") { return .list(items) }
            guard bytes[i - 1] == UInt8(ascii: ",") else { throw fail("expected ',' or ']'") }
        }
    }

    private mutating func number() throws -> TemplateValue {
        let start = i
        while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        if let n = Int(text) { return .int(n) }
        guard let d = Double(text), !text.isEmpty else { throw fail("bad number") }
        return .double(d)
    }

    private mutating func string() throws -> String {
        i += 1
        var out: [UInt8] = []
        while i < bytes.count {
            let c = bytes[i]
            i += 1
            if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
            if c != UInt8(ascii: "\\") { out.append(c); continue }
            guard i < bytes.count else { break }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"): out += Array(String(try unicodeEscape()).utf8)
            default: out.append(e)
            }
        }
        throw fail("unterminated string")
    }

    private mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16) else {
            throw fail("bad \\u escape")
        }
        i += 4
        return v
    }

    private mutating func unicodeEscape() throws -> Character {
        var v = try hex4()
        if (0xD800..<0xDC00).contains(v), i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"),
            bytes[i + 1] == UInt8(ascii: "u")
        {
            i += 2
            let low = try hex4()
            if (0xDC00..<0xE000).contains(low) { v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00) }
        }
        return Character(Unicode.Scalar(v) ?? "\u{FFFD}")
    }
}
