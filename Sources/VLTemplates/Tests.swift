// jinja2's tests: `x is defined`, `x is string`, `n is divisibleby 3`… and the names `select`,
// `selectattr` and friends take.

enum Tests {
    static let names: Set<String> = [
        "defined", "undefined", "none", "boolean", "false", "true", "integer", "float", "number", "string", "mapping",
        "iterable", "sequence", "callable", "sameas", "escaped", "in", "divisibleby", "even", "odd", "eq", "equalto",
        "==", "ne", "!=", "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "lower", "upper",
        "filter", "test",
    ]

    static func apply(_ name: String, _ v: Value, _ args: Args, _ r: Renderer) throws -> Bool {
        if let kind = typeTest(name, v) { return kind }
        if let compared = try comparison(name, v, args) { return compared }
        switch name {
        case "sameas": return identical(v, args.get(0, "other") ?? .none)
        case "in": return try Operators.contains(args.get(0, "seq") ?? .list([]), v)
        case "divisibleby":
            let n = try Operators.arithmetic(.modulo, v, args.get(0, "num") ?? .none)
            return Operators.equal(n, .int(0))
        case "even", "odd":
            guard v.integer != nil || v.number != nil else { throw TemplateError("'\(v.typeName)' is not a number") }
            let r = try Operators.arithmetic(.modulo, v, .int(2))
            return Operators.equal(r, .int(name == "even" ? 0 : 1))
        case "lower", "upper":
            let cased = try v.text(r.budget).unicodeScalars.filter(\.properties.isCased)
            let lower = name == "lower"
            return !cased.isEmpty && cased.allSatisfy { lower ? $0.properties.isLowercase : $0.properties.isUppercase }
        case "filter": return Filters.names.contains(args.get(0, "value")?.name ?? "")
        case "test": return names.contains(args.get(0, "value")?.name ?? "")
        default: throw TemplateError("no test named '\(name)'")
        }
    }

    private static func typeTest(_ name: String, _ v: Value) -> Bool? {
        switch name {
        case "defined": return !v.isUndefined
        case "undefined": return v.isUndefined
        case "none": if case .none = v { return true }; return false
        case "boolean": if case .bool = v { return true }; return false
        case "true": if case .bool(true) = v { return true }; return false
        case "false": if case .bool(false) = v { return true }; return false
        case "integer": if case .int = v { return true }; return false
        case "float": if case .double = v { return true }; return false
        case "number": return v.number != nil
        case "string": return v.string != nil
        case "mapping": if case .dict = v { return true }; return false
        case "escaped": return false
        case "callable": if case .callable = v { return true }; return false
        case "iterable":
            switch v {
            case .string, .list, .tuple, .dict, .undefined, .loop: return true
            default: return false
            }
        case "sequence":
            switch v {
            case .string, .list, .tuple, .dict, .undefined: return true
            default: return false
            }
        default: return nil
        }
    }

    private static func comparison(_ name: String, _ v: Value, _ args: Args) throws -> Bool? {
        let ops: [String: CompareOp] = [
            "eq": .equal, "equalto": .equal, "==": .equal, "ne": .notEqual, "!=": .notEqual, "lt": .less,
            "lessthan": .less, "<": .less, "le": .lessEqual, "<=": .lessEqual, "gt": .greater, "greaterthan": .greater,
            ">": .greater, "ge": .greaterEqual, ">=": .greaterEqual,
        ]
        guard let op = ops[name] else { return nil }
        guard let other = args.get(0, "other") else {
            throw TemplateError("test '\(name)' needs a value to compare with")
        }
        return try Operators.compare(op, v, other)
    }

    /// Python's `is`: the same object; for values, the same small value.
    private static func identical(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.none, .none): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.namespace(let x), .namespace(let y)): return x === y
        default: return false
        }
    }
}
