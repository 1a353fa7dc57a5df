import Foundation

// Python's two string formattings, as far as templates use them: `'%s: %d' % (a, b)` (and the
// `format` filter), and `'{}: {name}'.format(a, name=b)`.

enum Format {
    /// `format % values`; a tuple holds several values, a dict named ones.
    static func percent(_ format: String, _ values: Value, _ budget: Budget) throws -> String {
        var positional: [Value]
        if case .tuple(let l) = values { positional = l } else { positional = [values] }
        let named: Dict? = {
            if case .dict(let d) = values { return d }; return nil
        }()
        var out = "", used = 0
        var chars = Array(format.unicodeScalars)[...]
        while let c = chars.first {
            chars.removeFirst()
            guard c == "%" else { out.unicodeScalars.append(c); continue }
            let spec = try percentSpec(&chars)
            if spec.type == "%" { out += "%"; continue }
            let v: Value
            if let key = spec.key {
                guard let d = named, let x = d[key] else {
                    throw TemplateError("format requires a mapping with key '\(key)'")
                }
                v = x
            } else {
                guard used < positional.count else { throw TemplateError("not enough arguments for format string") }
                v = positional[used]
                used += 1
            }
            out += pad(
                try convert(v, spec.type, spec.precision, budget), spec.width, left: spec.flags.contains("-"),
                zero: spec.flags.contains("0") && "dfeigxo".unicodeScalars.contains(spec.type))
            try budget.checkSize(out.utf8.count)
        }
        if named == nil, used < positional.count, case .tuple = values {
            throw TemplateError("not all arguments converted during string formatting")
        }
        try budget.built(out.utf8.count)
        return out
    }

    private struct Spec {
        var key: String?
        var flags = ""
        var width = 0
        var precision: Int?
        var type: Unicode.Scalar = "s"
    }

    private static func percentSpec(_ chars: inout ArraySlice<Unicode.Scalar>) throws -> Spec {
        var spec = Spec()
        if chars.first == "(" {
            chars.removeFirst()
            var key = ""
            while let c = chars.first, c != ")" { key.unicodeScalars.append(c); chars.removeFirst() }
            guard chars.first == ")" else { throw TemplateError("incomplete format key") }
            chars.removeFirst()
            spec.key = key
        }
        while let c = chars.first, "-+ #0".unicodeScalars.contains(c) {
            spec.flags.unicodeScalars.append(c)
            chars.removeFirst()
        }
        spec.width = number(&chars) ?? 0
        if chars.first == "." {
            chars.removeFirst()
            spec.precision = number(&chars) ?? 0
        }
        guard let t = chars.first else { throw TemplateError("incomplete format") }
        chars.removeFirst()
        guard "sridfFeEgGxXoc%".unicodeScalars.contains(t) else {
            throw TemplateError("unsupported format character '\(t)'")
        }
        spec.type = t
        return spec
    }

    private static func number(_ chars: inout ArraySlice<Unicode.Scalar>) -> Int? {
        var digits = ""
        while let c = chars.first, ("0"..."9").contains(c), digits.count < 6 {
            digits.unicodeScalars.append(c)
            chars.removeFirst()
        }
        return Int(digits)
    }

    private static func convert(
        _ v: Value, _ type: Unicode.Scalar, _ precision: Int?, _ budget: Budget
    ) throws
        -> String
    {
        switch type {
        case "s":
            let s = try v.text(budget)
            return precision.map { String(s.unicodeScalars.prefix($0).map(Character.init)) } ?? s
        case "r":
            guard let r = v.repr(limit: budget.limits.maxValueSize) else { throw TemplateError("%r: too long") }
            return r
        case "d", "i":
            if let i = v.integer { return String(i) }
            if let d = v.number, let i = try Filters.toInt(.double(d)), let n = i.integer { return String(n) }
        case "f", "F", "e", "E", "g", "G":
            if let d = v.number { return String(format: "%.\(precision ?? 6)\(type)", d) }
        case "x", "X", "o":
            if let i = v.integer { return String(i, radix: type == "o" ? 8 : 16, uppercase: type == "X") }
        default:
            if let s = v.string, s.unicodeScalars.count == 1 { return s }
            if let i = v.integer, let u = Unicode.Scalar(UInt32(clamping: max(i, 0))) { return String(u) }
        }
        throw TemplateError("%\(type) format: a number is required, not \(v.typeName)")
    }

    private static func pad(_ s: String, _ width: Int, left: Bool, zero: Bool) -> String {
        let n = s.unicodeScalars.count
        guard width > n else { return s }
        let fill = String(repeating: zero && !left ? "0" : " ", count: width - n)
        if zero && !left, s.hasPrefix("-") { return "-" + fill + s.dropFirst() }
        return left ? s + fill : fill + s
    }

    /// `str.format`: `{}`, `{0}`, `{name}`, `!r`/`!s`, and a spec of fill, alignment, width and precision.
    static func braces(_ format: String, _ args: Args, _ budget: Budget) throws -> String {
        var out = "", auto = 0
        var chars = Array(format.unicodeScalars)[...]
        while let c = chars.first {
            chars.removeFirst()
            if c == "}" {
                guard chars.first == "}" else { throw TemplateError("Single '}' encountered in format string") }
                chars.removeFirst()
                out += "}"
                continue
            }
            guard c == "{" else { out.unicodeScalars.append(c); continue }
            if chars.first == "{" { chars.removeFirst(); out += "{"; continue }
            var field = ""
            while let f = chars.first, f != "}" { field.unicodeScalars.append(f); chars.removeFirst() }
            guard chars.first == "}" else { throw TemplateError("Single '{' encountered in format string") }
            chars.removeFirst()
            out += try formatField(field, args, &auto, budget)
            try budget.checkSize(out.utf8.count)
        }
        try budget.built(out.utf8.count)
        return out
    }

    private static func formatField(
        _ field: String, _ args: Args, _ auto: inout Int, _ budget: Budget
    ) throws
        -> String
    {
        var name = field, spec = "", conversion: Character?
        if let colon = name.firstIndex(of: ":") {
            spec = String(name[name.index(after: colon)...])
            name = String(name[..<colon])
        }
        if let bang = name.firstIndex(of: "!") {
            conversion = name[name.index(after: bang)...].first
            name = String(name[..<bang])
        }
        let v: Value
        if name.isEmpty {
            guard auto < args.positional.count else { throw TemplateError("Replacement index \(auto) out of range") }
            v = args.positional[auto]
            auto += 1
        } else if let i = Int(name) {
            guard i >= 0, i < args.positional.count else { throw TemplateError("Replacement index \(i) out of range") }
            v = args.positional[i]
        } else {
            guard let x = args.keywords.first(where: { $0.0 == name })?.1 else {
                throw TemplateError("KeyError: '\(name)'")
            }
            v = x
        }
        let text = try convert(v, conversion == "r" ? "r" : spec.contains("f") ? "f" : "s", precision(spec), budget)
        return align(text, spec)
    }

    private static func precision(_ spec: String) -> Int? {
        guard let dot = spec.firstIndex(of: ".") else { return nil }
        return Int(spec[spec.index(after: dot)...].prefix { $0.isNumber })
    }

    private static func align(_ s: String, _ spec: String) -> String {
        var rest = Substring(spec)
        var fill: Character = " ", alignment: Character = "<"
        if rest.count >= 2, "<>^".contains(rest[rest.index(after: rest.startIndex)]) {
            fill = rest.removeFirst()
            alignment = rest.removeFirst()
        } else if let f = rest.first, "<>^".contains(f) {
            alignment = rest.removeFirst()
        }
        let width = min(Int(rest.prefix { $0.isNumber }) ?? 0, 1 << 16)
        let n = s.unicodeScalars.count
        guard width > n else { return s }
        let extra = width - n
        switch alignment {
        case ">": return String(repeating: fill, count: extra) + s
        case "^":
            return String(repeating: fill, count: extra / 2) + s + String(repeating: fill, count: extra - extra / 2)
        default: return s + String(repeating: fill, count: extra)
        }
    }
}
