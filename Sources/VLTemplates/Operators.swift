import Foundation

// Arithmetic, comparison and membership with Python's rules; integer overflow is an error
// (Python's integers are unbounded, so a render that needs more than 64 bits fails cleanly here).

enum Operators {
    static func binary(_ op: BinaryOp, _ a: Value, _ b: Value, _ budget: Budget) throws -> Value {
        if op == .concat {
            let s = try a.text(budget) + b.text(budget)
            try budget.built(s.utf8.count)
            return .string(s)
        }
        if case .undefined(let u) = a { throw u.error() }
        if case .undefined(let u) = b { throw u.error() }
        switch op {
        case .add: return try add(a, b, budget)
        case .multiply: return try multiply(a, b, budget)
        case .modulo:
            if case .string(let format) = a { return .string(try Format.percent(format, b, budget)) }
            return try arithmetic(op, a, b)
        default: return try arithmetic(op, a, b)
        }
    }

    private static func unsupported(_ op: BinaryOp, _ a: Value, _ b: Value) -> TemplateError {
        TemplateError("unsupported operand type(s) for \(op.rawValue): '\(a.typeName)' and '\(b.typeName)'")
    }

    private static func add(_ a: Value, _ b: Value, _ budget: Budget) throws -> Value {
        switch (a, b) {
        case (.string(let x), .string(let y)):
            try budget.built(x.utf8.count + y.utf8.count)
            return .string(x + y)
        case (.list(let x), .list(let y)):
            try budget.listSize(x.count + y.count)
            return .list(x + y)
        case (.tuple(let x), .tuple(let y)):
            try budget.listSize(x.count + y.count)
            return .tuple(x + y)
        case (.string, _):
            throw TemplateError("can only concatenate str (not \"\(b.typeName)\") to str")
        case (.list, _), (.tuple, _):
            throw TemplateError("can only concatenate \(a.typeName) (not \"\(b.typeName)\") to \(a.typeName)")
        default: return try arithmetic(.add, a, b)
        }
    }

    private static func multiply(_ a: Value, _ b: Value, _ budget: Budget) throws -> Value {
        switch (a, b) {
        case (.string(let s), _) where b.integer != nil: return .string(try repeated(s, b.integer ?? 0, budget))
        case (_, .string(let s)) where a.integer != nil: return .string(try repeated(s, a.integer ?? 0, budget))
        case (.list(let l), _) where b.integer != nil: return .list(try repeated(l, b.integer ?? 0, budget))
        case (_, .list(let l)) where a.integer != nil: return .list(try repeated(l, a.integer ?? 0, budget))
        case (.tuple(let l), _) where b.integer != nil: return .tuple(try repeated(l, b.integer ?? 0, budget))
        default: return try arithmetic(.multiply, a, b)
        }
    }

    private static func repeated(_ s: String, _ n: Int, _ budget: Budget) throws -> String {
        guard n > 0, !s.isEmpty else { return "" }
        let (size, overflow) = s.utf8.count.multipliedReportingOverflow(by: n)
        try budget.built(overflow ? Int.max : size)
        return String(repeating: s, count: n)
    }

    private static func repeated(_ l: [Value], _ n: Int, _ budget: Budget) throws -> [Value] {
        guard n > 0, !l.isEmpty else { return [] }
        let (size, overflow) = l.count.multipliedReportingOverflow(by: n)
        try budget.listSize(overflow ? Int.max : size)
        return Array([[Value]](repeating: l, count: n).joined())
    }

    static func arithmetic(_ op: BinaryOp, _ a: Value, _ b: Value) throws -> Value {
        if let x = a.integer, let y = b.integer, a.isIntLike, b.isIntLike { return try integer(op, x, y) }
        guard let x = a.number, let y = b.number else { throw unsupported(op, a, b) }
        return .double(try real(op, x, y))
    }

    private static func overflow(_ op: BinaryOp, _ x: Int, _ y: Int) -> TemplateError {
        TemplateError("integer overflow: \(x) \(op.rawValue) \(y) does not fit in 64 bits")
    }

    static func integer(_ op: BinaryOp, _ x: Int, _ y: Int) throws -> Value {
        func checked(_ r: (partialValue: Int, overflow: Bool)) throws -> Value {
            if r.overflow { throw overflow(op, x, y) }
            return .int(r.partialValue)
        }
        switch op {
        case .add: return try checked(x.addingReportingOverflow(y))
        case .subtract: return try checked(x.subtractingReportingOverflow(y))
        case .multiply: return try checked(x.multipliedReportingOverflow(by: y))
        case .divide:
            guard y != 0 else { throw TemplateError("division by zero") }
            return .double(Double(x) / Double(y))
        case .floorDivide, .modulo:
            guard y != 0 else { throw TemplateError("integer division or modulo by zero") }
            let q = x.dividedReportingOverflow(by: y), r = x.remainderReportingOverflow(dividingBy: y)
            if q.overflow || r.overflow { throw overflow(op, x, y) }
            let adjust = r.partialValue != 0 && (r.partialValue < 0) != (y < 0)
            return .int(
                op == .modulo
                    ? (adjust ? r.partialValue + y : r.partialValue)
                    : (adjust ? q.partialValue - 1 : q.partialValue))
        case .power: return try power(x, y)
        case .concat: return .string(String(x) + String(y))
        }
    }

    private static func power(_ x: Int, _ y: Int) throws -> Value {
        if y < 0 {
            guard x != 0 else { throw TemplateError("0.0 cannot be raised to a negative power") }
            return .double(pow(Double(x), Double(y)))
        }
        var result = 1, base = x, e = y
        while e > 0 {
            if e & 1 == 1 {
                let r = result.multipliedReportingOverflow(by: base)
                if r.overflow { throw overflow(.power, x, y) }
                result = r.partialValue
            }
            e >>= 1
            if e > 0 {
                let b = base.multipliedReportingOverflow(by: base)
                if b.overflow { throw overflow(.power, x, y) }
                base = b.partialValue
            }
        }
        return .int(result)
    }

    private static func real(_ op: BinaryOp, _ x: Double, _ y: Double) throws -> Double {
        switch op {
        case .add: return x + y
        case .subtract: return x - y
        case .multiply: return x * y
        case .divide:
            guard y != 0 else { throw TemplateError("float division by zero") }
            return x / y
        case .floorDivide:
            guard y != 0 else { throw TemplateError("float floor division by zero") }
            return (x / y).rounded(.down)
        case .modulo:
            guard y != 0 else { throw TemplateError("float modulo") }
            let r = fmod(x, y)
            return r != 0 && (r < 0) != (y < 0) ? r + y : r
        case .power:
            if x == 0 && y < 0 { throw TemplateError("0.0 cannot be raised to a negative power") }
            if x < 0 && y != y.rounded() {
                throw TemplateError("a negative number cannot be raised to a fractional power")
            }
            return pow(x, y)
        case .concat: return 0
        }
    }

    static func negate(_ v: Value) throws -> Value {
        switch v {
        case .int(let i):
            guard i != Int.min else { throw TemplateError("integer overflow: -(\(i)) does not fit in 64 bits") }
            return .int(-i)
        case .bool(let b): return .int(b ? -1 : 0)
        case .double(let d): return .double(-d)
        case .undefined(let u): throw u.error()
        default: throw TemplateError("bad operand type for unary -: '\(v.typeName)'")
        }
    }

    static func plus(_ v: Value) throws -> Value {
        switch v {
        case .int, .double: return v
        case .bool(let b): return .int(b ? 1 : 0)
        case .undefined(let u): throw u.error()
        default: throw TemplateError("bad operand type for unary +: '\(v.typeName)'")
        }
    }

    // MARK: - Comparison

    static func equal(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let x), .string(let y)): return x.unicodeScalars.elementsEqual(y.unicodeScalars)
        case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.dict(let x), .dict(let y)):
            return x.count == y.count && x.pairs.allSatisfy { k, v in y[k].map { equal(v, $0) } ?? false }
        case (.namespace(let x), .namespace(let y)): return x === y
        default:
            if let x = a.integer, let y = b.integer { return x == y }
            if let x = a.number, let y = b.number { return x == y }
            return false
        }
    }

    static func compare(_ op: CompareOp, _ a: Value, _ b: Value) throws -> Bool {
        switch op {
        case .equal: return equal(a, b)
        case .notEqual: return !equal(a, b)
        case .contains: return try contains(b, a)
        case .notContains: return try !contains(b, a)
        case .less: return try order(a, b, op) < 0
        case .lessEqual: return try order(a, b, op) <= 0
        case .greater: return try order(a, b, op) > 0
        case .greaterEqual: return try order(a, b, op) >= 0
        }
    }

    /// -1, 0 or 1 as Python orders `a` and `b`, or a TypeError.
    static func order(_ a: Value, _ b: Value, _ op: CompareOp = .less) throws -> Int {
        if case .undefined(let u) = a { throw u.error() }
        if case .undefined(let u) = b { throw u.error() }
        switch (a, b) {
        case (.string(let x), .string(let y)):
            if x.unicodeScalars.elementsEqual(y.unicodeScalars) { return 0 }
            return x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars) { $0.value < $1.value } ? -1 : 1
        case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
            for (p, q) in zip(x, y) where !equal(p, q) { return try order(p, q, op) }
            return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1)
        default:
            if let x = a.integer, let y = b.integer, a.isIntLike, b.isIntLike { return x == y ? 0 : (x < y ? -1 : 1) }
            if let x = a.number, let y = b.number { return x == y ? 0 : (x < y ? -1 : 1) }
            throw TemplateError(
                "'\(op.rawValue)' not supported between instances of '\(a.typeName)' and "
                    + "'\(b.typeName)'")
        }
    }

    /// Python's `item in container`.
    static func contains(_ container: Value, _ item: Value) throws -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let t) = item else {
                if case .undefined(let u) = item { throw u.error() }
                throw TemplateError("'in <string>' requires string as left operand, not \(item.typeName)")
            }
            return t.isEmpty || Text.find(t, in: s) != nil
        case .list(let l), .tuple(let l): return l.contains { equal($0, item) }
        case .dict(let d): return Access.dictKey(item).map { d[$0] != nil } ?? false
        case .undefined: return false
        case .namespace(let ns): return item.string.map { ns.attributes[$0] != nil } ?? false
        default: throw TemplateError("argument of type '\(container.typeName)' is not iterable")
        }
    }
}

extension Value {
    /// An int or a bool (whose arithmetic is integer arithmetic in Python).
    var isIntLike: Bool {
        switch self {
        case .int, .bool: return true
        default: return false
        }
    }
}
