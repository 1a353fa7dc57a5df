import Foundation

// Values as Python prints them (`str`, `repr`), and Python's notion of whitespace.

extension Value {
    /// Python's `str(value)`; jinja's undefined prints as nothing.
    var str: String {
        switch self {
        case .undefined: return ""
        case .string(let s): return s
        default: return repr
        }
    }

    /// Python's `repr(value)`, cut (with "...") past 8 MiB: where the size matters, `text(_:)` bounds it.
    var repr: String { repr(limit: 8 << 20) ?? "..." }

    /// `repr`, or nil when it is longer than `limit` bytes (found without building more than that).
    func repr(limit: Int) -> String? {
        var out = ""
        return writeRepr(into: &out, limit: limit) ? out : nil
    }

    /// `str(value)` for text the template builds: bounded by `maxValueSize` and counted in the budget.
    func text(_ budget: Budget) throws -> String {
        switch self {
        case .string(let s): return s
        case .undefined: return ""
        default:
            guard let s = repr(limit: budget.limits.maxValueSize) else {
                throw TemplateError.limit(
                    "maxValueSize",
                    "the text of a \(typeName) is longer than "
                        + "\(budget.limits.maxValueSize) bytes")
            }
            try budget.built(s.utf8.count)
            return s
        }
    }

    private func writeRepr(into out: inout String, limit: Int) -> Bool {
        switch self {
        case .undefined: break
        case .none: out += "None"
        case .bool(let b): out += b ? "True" : "False"
        case .int(let i): out += String(i)
        case .double(let d): out += Python.floatRepr(d)
        case .string(let s): out += Python.stringRepr(s)
        case .list(let l): return Value.writeItems(l, "[", "]", into: &out, limit: limit)
        case .tuple(let l): return Value.writeItems(l, "(", l.count == 1 ? ",)" : ")", into: &out, limit: limit)
        case .dict(let d):
            out += "{"
            for (i, (k, v)) in d.pairs.enumerated() {
                out += (i > 0 ? ", " : "") + Python.stringRepr(k) + ": "
                guard out.utf8.count <= limit, v.writeRepr(into: &out, limit: limit) else { return false }
            }
            out += "}"
        case .namespace(let ns):
            out += "<Namespace "
            guard Value.dict(ns.attributes).writeRepr(into: &out, limit: limit) else { return false }
            out += ">"
        case .loop: out += "<LoopContext>"
        case .callable(let c): out += "<function \(c.name)>"
        }
        return out.utf8.count <= limit
    }

    private static func writeItems(
        _ l: [Value], _ open: String, _ close: String, into out: inout String,
        limit: Int
    ) -> Bool {
        out += open
        for (i, v) in l.enumerated() {
            if i > 0 { out += ", " }
            guard out.utf8.count <= limit, v.writeRepr(into: &out, limit: limit) else { return false }
        }
        out += close
        return out.utf8.count <= limit
    }
}

extension Callable {
    var name: String {
        switch self {
        case .macro(let m): return m.name
        case .builtin(let n): return n
        case .method(_, let n): return n
        case .loopCycle: return "cycle"
        }
    }
}

enum Python {
    /// `repr(float)`: the shortest text that reads back, in Python's layout (`1.0`, `1e+16`, `1e-05`).
    static func floatRepr(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        let (digits, exponent) = shortestDigits(abs(d))
        let sign = d < 0 ? "-" : ""
        // Python uses scientific notation when the decimal exponent is < -4 or >= 16.
        if exponent < -4 || exponent >= 16 {
            var mantissa = String(digits.first ?? "0")
            if digits.count > 1 { mantissa += "." + digits.dropFirst() }
            let e = abs(exponent)
            return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + (e < 10 ? "0" : "") + String(e)
        }
        if exponent < 0 { return sign + "0." + String(repeating: "0", count: -exponent - 1) + digits }
        if digits.count <= exponent + 1 {
            return sign + digits + String(repeating: "0", count: exponent + 1 - digits.count) + ".0"
        }
        let cut = digits.index(digits.startIndex, offsetBy: exponent + 1)
        return sign + digits[..<cut] + "." + digits[cut...]
    }

    /// The shortest round-trip digits of a positive finite double and the exponent of its first digit.
    private static func shortestDigits(_ d: Double) -> (String, Int) {
        let text = "\(d)"  // Swift prints the shortest round-trip form too, e.g. "1.5e-07" or "123.25"
        var mantissa = text, exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = String(text[..<e])
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        let whole = String(parts.first ?? "0"), fraction = parts.count > 1 ? String(parts[1]) : ""
        var digits = whole + fraction
        var firstDigitExponent = exponent + whole.count - 1
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            firstDigitExponent -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        return (digits, firstDigitExponent)
    }

    /// `repr(str)`: single quotes unless the text has a single quote and no double one.
    static func stringRepr(_ s: String) -> String {
        let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for u in s.unicodeScalars {
            switch u {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if Character(u) == quote {
                    out += "\\" + String(quote)
                } else if isPrintable(u) {
                    out.unicodeScalars.append(u)
                } else {
                    out += hexEscape(u.value)
                }
            }
        }
        return out + String(quote)
    }

    private static func hexEscape(_ v: UInt32) -> String {
        let hex = String(v, radix: 16)
        if v < 0x100 { return "\\x" + String(repeating: "0", count: 2 - hex.count) + hex }
        if v < 0x10000 { return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex }
        return "\\U" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// Roughly Python's `str.isprintable` for one character: not a control, format, separator
    /// (other than the space) or unassigned code point.
    private static func isPrintable(_ u: Unicode.Scalar) -> Bool {
        if u == " " { return true }
        switch u.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
            .spaceSeparator:
            return false
        default: return true
        }
    }

    /// Python's `str.isspace` for one code point.
    static func isSpace(_ u: Unicode.Scalar) -> Bool {
        u.properties.isWhitespace || (0x1C...0x1F).contains(u.value)
    }

    static func strip(_ s: String, leading: Bool = true, trailing: Bool = true, chars: String? = nil) -> String {
        let set = chars.map { Set($0.unicodeScalars) }
        let drop: (Unicode.Scalar) -> Bool = { set?.contains($0) ?? isSpace($0) }
        var scalars = Substring(s).unicodeScalars[...]
        if leading { while let f = scalars.first, drop(f) { scalars.removeFirst() } }
        if trailing { while let l = scalars.last, drop(l) { scalars.removeLast() } }
        return String(String.UnicodeScalarView(scalars))
    }
}
