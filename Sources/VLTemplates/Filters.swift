import Foundation

// jinja2's builtin filters that chat templates use, with transformers' `tojson`. Unknown filter
// names are refused when the template is parsed, as jinja refuses them when it compiles.

enum Filters {
    static let names: Set<String> = [
        "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first",
        "float", "forceescape", "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map",
        "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "slice",
        "sort", "string", "sum", "title", "tojson", "trim", "unique", "upper", "wordcount",
    ]

    static func apply(_ name: String, _ v: Value, _ args: Args, _ r: Renderer) throws -> Value {
        if let out = try text(name, v, args, r.budget) { return out }
        if let out = try number(name, v, args) { return out }
        return try Collections.apply(name, v, args, r)
    }

    private static func argument(_ args: Args, _ i: Int, _ name: String) -> Value? { args.get(i, name) }

    /// Filters of text.
    private static func text(_ name: String, _ v: Value, _ args: Args, _ budget: Budget) throws -> Value? {
        switch name {
        case "default", "d":
            let boolean = args.get(1, "boolean")?.truthy ?? false
            return v.isUndefined || (boolean && !v.truthy) ? args.get(0, "default_value") ?? .empty : v
        case "string": return .string(try v.text(budget))
        case "safe": return v
        case "e", "escape", "forceescape": return .string(Text.htmlEscape(try v.text(budget)))
        case "upper": return .string((try v.text(budget)).uppercased())
        case "lower": return .string((try v.text(budget)).lowercased())
        case "capitalize": return .string(Text.capitalize(try v.text(budget)))
        case "title": return .string(Text.jinjaTitle(try v.text(budget)))
        case "trim":
            var chars: String?
            if let given = args.get(0, "chars"), !given.isNone { chars = try given.text(budget) }
            return .string(Python.strip((try v.text(budget)), chars: chars))
        case "replace":
            guard let old = args.get(0, "old"), let new = args.get(1, "new") else {
                throw TemplateError("replace() needs the text to replace and its replacement")
            }
            let count = args.get(2, "count").flatMap { $0 == .none ? nil : $0.integer } ?? -1
            let (s, a, b) = (try v.text(budget), try old.text(budget), try new.text(budget))
            return .string(try Text.replace(s, a, b, count: count, budget: budget))
        case "indent": return .string(try indent(try defined(v).text(budget), args, budget))
        case "format":
            let values: Value = args.keywords.isEmpty ? .tuple(args.positional) : .dict(Dict(args.keywords))
            return .string(try Format.percent((try v.text(budget)), values, budget))
        case "wordcount": return .int(try Text.split((try v.text(budget)), nil).count)
        case "center":
            let width = args.get(0, "width")?.integer ?? 80
            return try Methods.string((try v.text(budget)), "center", Args([.int(width)]), budget)
        case "tojson": return .string(try JSONWriter(args, budget: budget).write(v))
        default: return nil
        }
    }

    /// Undefined is an error where jinja's filters would call a method of it.
    static func defined(_ v: Value) throws -> Value {
        if case .undefined(let u) = v { throw u.error() }
        return v
    }

    /// jinja's `indent(width=4, first=False, blank=False)`.
    private static func indent(_ s: String, _ args: Args, _ budget: Budget) throws -> String {
        let width = args.get(0, "width") ?? .int(4)
        let spaces = max(width.integer ?? 4, 0)
        if width.string == nil { try budget.checkSize(spaces) }
        let indention = width.string ?? String(repeating: " ", count: spaces)
        let first = args.get(1, "first")?.truthy ?? false, blank = args.get(2, "blank")?.truthy ?? false
        var lines = Text.splitLines(s + "\n")
        try budget.built(s.utf8.count + lines.count * indention.utf8.count)
        var out: String
        if blank {
            out = lines.joined(separator: "\n" + indention)
        } else {
            out = lines.isEmpty ? "" : lines.removeFirst()
            if !lines.isEmpty { out += "\n" + lines.map { $0.isEmpty ? $0 : indention + $0 }.joined(separator: "\n") }
        }
        return first ? indention + out : out
    }

    /// Filters of numbers.
    private static func number(_ name: String, _ v: Value, _ args: Args) throws -> Value? {
        switch name {
        case "int": return try toInt(v, base: args.get(1, "base")?.integer ?? 10) ?? args.get(0, "default") ?? .int(0)
        case "float": return toDouble(v).map(Value.double) ?? args.get(0, "default") ?? .double(0)
        case "abs":
            switch v {
            case .int(let i):
                guard i != Int.min else { throw TemplateError("integer overflow in abs") }
                return .int(abs(i))
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return .double(abs(d))
            default: throw TemplateError("bad operand type for abs(): '\(v.typeName)'")
            }
        case "round": return try round(v, args)
        default: return nil
        }
    }

    /// jinja's `int`: nil where it falls back to the default; too big for 64 bits is an error here
    /// (Python's integers have no bound).
    static func toInt(_ v: Value, base: Int = 10) throws -> Value? {
        switch v {
        case .int, .bool: return v.integer.map(Value.int)
        case .double(let d):
            if d.isNaN { return nil }
            guard d.isFinite, abs(d) < 9.2e18 else {
                throw TemplateError("integer overflow: \(Python.floatRepr(d)) as int")
            }
            return .int(Int(d.rounded(.towardZero)))
        case .string(let s):
            let t = Python.strip(s).replacingAll("_", with: "")
            if let i = Int(t, radix: max(2, min(base, 36))) { return .int(i) }
            return try toDouble(v).flatMap { try toInt(.double($0)) }
        default: return nil
        }
    }

    static func toDouble(_ v: Value) -> Double? {
        switch v {
        case .int, .bool, .double: return v.number
        case .string(let s):
            let t = Python.strip(s).lowercased()
            if ["inf", "+inf", "infinity", "+infinity"].contains(t) { return .infinity }
            if ["-inf", "-infinity"].contains(t) { return -.infinity }
            if t == "nan" { return .nan }
            return t.isEmpty || t.contains("x") ? nil : Double(t.replacingAll("_", with: ""))
        default: return nil
        }
    }

    /// `round(precision=0, method='common')`: Python's `round` (halves to even) or floor/ceil.
    private static func round(_ v: Value, _ args: Args) throws -> Value {
        let precision = args.get(0, "precision")?.integer ?? 0
        let method = args.get(1, "method")?.name ?? "common"
        guard ["common", "floor", "ceil"].contains(method) else {
            throw TemplateError("method must be 'common', 'ceil' or 'floor'")
        }
        guard let x = v.number else { throw TemplateError("type \(v.typeName) doesn't define __round__ method") }
        if method == "common", v.isIntLike, precision >= 0 { return .int(v.integer ?? 0) }
        if method == "common", (0...17).contains(precision), x.isFinite {
            // printf rounds the exact binary value, halves to even, as Python's round does.
            return .double(Double(String(format: "%.\(precision)f", x)) ?? x)
        }
        let scale = pow(10, Double(min(max(precision, -308), 308)))
        let rule: FloatingPointRoundingRule = method == "floor" ? .down : method == "ceil" ? .up : .toNearestOrEven
        let scaled = x * scale
        guard scaled.isFinite else { return .double(x) }
        return .double(scaled.rounded(rule) / scale)
    }
}
