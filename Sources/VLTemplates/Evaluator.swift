// Expressions' values, as jinja2 computes them in transformers' sandbox.

extension Renderer {
    func eval(_ e: Expr) throws -> Value {
        try budget.enter("expressions")
        defer { budget.leave() }
        do {
            return try value(of: e.kind)
        } catch let error as TemplateError {
            throw error.at(e.line)
        }
    }

    private func value(of kind: ExprKind) throws -> Value {
        switch kind {
        case .literal(let v): return v
        case .name(let n): return lookup(n)
        case .list(let items): return .list(try items.map(eval))
        case .tuple(let items): return .tuple(try items.map(eval))
        case .dict(let pairs): return try dictLiteral(pairs)
        case .attribute(let base, let name): return try Access.attribute(try eval(base), name)
        case .item(let base, let index): return try Access.item(try eval(base), try eval(index))
        case .slice(let base, let start, let stop, let step):
            return try Access.slice(try eval(base), try start.map(eval), try stop.map(eval), try step.map(eval), budget)
        case .call(let callee, let args): return try call(try eval(callee), try evalArguments(args))
        case .filter(let base, let name, let args): return try filter(base, name, args)
        case .test(let subject, let name, let args, let negated):
            return .bool(try Tests.apply(name, try eval(subject), try evalArguments(args), self) != negated)
        case .negate(let x): return try Operators.negate(try eval(x))
        case .plus(let x): return try Operators.plus(try eval(x))
        case .not(let x): return .bool(!(try eval(x).truthy))
        case .binary(let op, let a, let b): return try Operators.binary(op, try eval(a), try eval(b), budget)
        case .and(let a, let b):
            let x = try eval(a)
            return x.truthy ? try eval(b) : x
        case .or(let a, let b):
            let x = try eval(a)
            return x.truthy ? x : try eval(b)
        case .compare(let first, let ops): return try compare(first, ops)
        case .conditional(let test, let then, let otherwise):
            if try eval(test).truthy { return try eval(then) }
            return try otherwise.map(eval) ?? .undefined("conditional expression")
        }
    }

    private func dictLiteral(_ pairs: [(Expr, Expr)]) throws -> Value {
        var d = Dict()
        for (k, v) in pairs {
            let key = try eval(k)
            guard key.string != nil || key.integer != nil || key.number != nil || key == .none else {
                throw TemplateError("unhashable type: '\(key.typeName)'")
            }
            d[key.str] = try eval(v)
        }
        return .dict(d)
    }

    /// `a < b < c` is `a < b and b < c`, each operand evaluated once.
    private func compare(_ first: Expr, _ ops: [(CompareOp, Expr)]) throws -> Value {
        var left = try eval(first)
        for (op, e) in ops {
            let right = try eval(e)
            guard try Operators.compare(op, left, right) else { return .bool(false) }
            left = right
        }
        return .bool(true)
    }

    private func filter(_ base: Expr, _ name: String, _ args: Arguments) throws -> Value {
        // `default` looks at an undefined value without failing on it.
        let v = try eval(base)
        return try Filters.apply(name, v, try evalArguments(args), self)
    }

    func evalArguments(_ args: Arguments) throws -> Args {
        Args(try args.positional.map(eval), try args.keywords.map { ($0.0, try eval($0.1)) })
    }

    func call(_ callee: Value, _ args: Args) throws -> Value {
        switch callee {
        case .callable(.macro(let m)): return try callMacro(m, args)
        case .callable(.builtin(let name)): return try Globals.call(name, args, self)
        case .callable(.method(let base, let name)): return try Methods.call(base.value, name, args, budget)
        case .callable(.loopCycle(let index)):
            guard !args.positional.isEmpty else { throw TemplateError("no items for cycling given") }
            return args.positional[index % args.positional.count]
        case .undefined(let u): throw u.error()
        default: throw TemplateError("'\(callee.typeName)' object is not callable")
        }
    }
}

extension Value {
    static func == (a: Value, b: Value) -> Bool { Operators.equal(a, b) }
}
