// transformers' `tojson`: `json.dumps(x, ensure_ascii=False, indent=None, separators=None,
// sort_keys=False)`, byte for byte.

struct JSONWriter {
    var ensureASCII = false
    /// nil: one line; otherwise the text repeated once per level at each new line.
    var indent: String?
    var itemSeparator = ", "
    var keySeparator = ": "
    var sortKeys = false
    let budget: Budget

    init(_ args: Args, budget: Budget) throws {
        self.budget = budget
        try args.check("tojson", ["ensure_ascii", "indent", "separators", "sort_keys"])
        ensureASCII = args.get(0, "ensure_ascii")?.truthy ?? false
        switch args.get(1, "indent") {
        case nil, .none?: indent = nil
        case .string(let s)?: indent = s
        case let v?:
            guard let n = v.integer else { throw TemplateError("indent must be an int or a string") }
            try budget.checkSize(max(n, 0))
            indent = String(repeating: " ", count: max(n, 0))
        }
        if indent != nil { itemSeparator = "," }
        if let seps = args.get(2, "separators"), !(seps == .none) {
            guard let l = seps.elements, l.count == 2, let a = l[0].string, let b = l[1].string else {
                throw TemplateError("separators must be a pair of strings")
            }
            (itemSeparator, keySeparator) = (a, b)
        }
        sortKeys = args.get(3, "sort_keys")?.truthy ?? false
    }

    func write(_ v: Value) throws -> String {
        var out = ""
        try write(v, level: 0, into: &out)
        try budget.built(out.utf8.count)
        return out
    }

    private func newline(_ level: Int, _ out: inout String) throws {
        guard let indent else { return }
        try budget.checkSize(out.utf8.count + 1 + indent.utf8.count * level)
        out += "\n" + String(repeating: indent, count: level)
        try budget.checkSize(out.utf8.count)
    }

    private func write(_ v: Value, level: Int, into out: inout String) throws {
        guard level < 1000 else { throw TemplateError("maximum recursion depth exceeded while encoding a JSON object") }
        try budget.stack.check("JSON")
        switch v {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            out += d.isNaN ? "NaN" : d.isInfinite ? (d < 0 ? "-Infinity" : "Infinity") : Python.floatRepr(d)
        case .string(let s): out += quoted(s)
        case .list(let l), .tuple(let l): try writeList(l, level: level, into: &out)
        case .dict(let d):
            let pairs =
                sortKeys
                ? d.pairs.sorted { $0.0.unicodeScalars.lexicographicallyPrecedes($1.0.unicodeScalars) }
                : d.pairs
            try writeDict(pairs, level: level, into: &out)
        case .namespace, .loop, .callable, .undefined:
            throw TemplateError("Object of type \(v.typeName) is not JSON serializable")
        }
        try budget.checkSize(out.utf8.count)
    }

    private func writeList(_ l: [Value], level: Int, into out: inout String) throws {
        guard !l.isEmpty else { out += "[]"; return }
        out += "["
        for (i, x) in l.enumerated() {
            if i > 0 { out += itemSeparator }
            try newline(level + 1, &out)
            try write(x, level: level + 1, into: &out)
        }
        try newline(level, &out)
        out += "]"
    }

    private func writeDict(_ pairs: [(String, Value)], level: Int, into out: inout String) throws {
        guard !pairs.isEmpty else { out += "{}"; return }
        out += "{"
        for (i, (k, x)) in pairs.enumerated() {
            if i > 0 { out += itemSeparator }
            try newline(level + 1, &out)
            out += quoted(k) + keySeparator
            try write(x, level: level + 1, into: &out)
        }
        try newline(level, &out)
        out += "}"
    }

    /// A JSON string as Python's encoder writes it.
    func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 || (ensureASCII && u.value > 0x7E) {
                    out += escaped(u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    private func escaped(_ v: UInt32) -> String {
        func hex(_ x: UInt32) -> String {
            let h = String(x, radix: 16)
            return "\\u" + String(repeating: "0", count: 4 - h.count) + h
        }
        guard v > 0xFFFF else { return hex(v) }
        let w = v - 0x10000
        return hex(0xD800 + (w >> 10)) + hex(0xDC00 + (w & 0x3FF))
    }
}
