// Expressions, with jinja2's precedence (lowest first): `x if c else y`, `or`, `and`, `not`,
// comparisons and `in`, `+ -`, `~`, `* / // %`, `**`, unary `- +`, then postfix (`.a`, `[i]`,
// calls), filters and tests.

extension Parser {
    /// One level deeper in an expression; the bound keeps parsing and evaluation off the stack's end.
    mutating func nested<T>(_ parse: (inout Parser) throws -> T) throws -> T {
        try stack.check("expression")
        expressionDepth += 1
        defer { expressionDepth -= 1 }
        guard expressionDepth <= maxDepth else {
            throw TemplateError.limit("maxDepth", "expression nested more than \(maxDepth) deep", line: line)
        }
        return try parse(&self)
    }

    /// An expression node, refused when its tree is deeper than the limit (long operator chains).
    func make(_ kind: ExprKind, line: Int) throws -> Expr {
        let e = Expr(kind, line: line)
        guard e.depth <= maxDepth * 2 else {
            throw TemplateError.limit("maxDepth", "expression nested more than \(maxDepth * 2) deep", line: line)
        }
        return e
    }

    /// `a, b` is a tuple, as in `{{ a, b }}` and `{% set x = a, b %}`.
    mutating func parseTuple(withConditional: Bool = true) throws -> Expr {
        let l = line
        var items: [Expr] = []
        var sawComma = false
        while true {
            if !items.isEmpty {
                guard skip(.op(",")) else { break }
                sawComma = true
                if isTupleEnd { break }
            }
            items.append(withConditional ? try parseExpression() : try nested { try $0.parseOr() })
        }
        return sawComma ? try make(.tuple(items), line: l) : items[0]
    }

    private var isTupleEnd: Bool {
        switch current.kind {
        case .variableEnd, .blockEnd, .op(")"), .end: return true
        case .name(let n): return n == "in" || n == "if" || n == "recursive"
        default: return false
        }
    }

    mutating func parseExpression() throws -> Expr { try nested { try $0.parseConditional() } }

    mutating func parseConditional() throws -> Expr {
        var e = try parseOr()
        while skipName("if") {
            let l = line
            let test = try parseOr()
            let otherwise = skipName("else") ? try parseExpression() : nil
            e = try make(.conditional(test: test, then: e, otherwise: otherwise), line: l)
        }
        return e
    }

    mutating func parseOr() throws -> Expr {
        var e = try parseAnd()
        while skipName("or") { e = try make(.or(e, try parseAnd()), line: line) }
        return e
    }

    mutating func parseAnd() throws -> Expr {
        var e = try parseNot()
        while skipName("and") { e = try make(.and(e, try parseNot()), line: line) }
        return e
    }

    mutating func parseNot() throws -> Expr {
        if skipName("not") { return try make(.not(try nested { try $0.parseNot() }), line: line) }
        return try parseCompare()
    }

    mutating func parseCompare() throws -> Expr {
        let l = line
        let e = try parseMath1()
        var ops: [(CompareOp, Expr)] = []
        while true {
            if case .op(let o) = current.kind, let op = CompareOp(rawValue: o), op != .contains {
                advance()
                ops.append((op, try parseMath1()))
            } else if skipName("in") {
                ops.append((.contains, try parseMath1()))
            } else if current.kind == .name("not"), peek() == .name("in") {
                advance()
                advance()
                ops.append((.notContains, try parseMath1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? e : try make(.compare(e, ops), line: l)
    }

    private mutating func binaryChain(_ ops: [BinaryOp], _ operand: (inout Parser) throws -> Expr) throws -> Expr {
        var e = try operand(&self)
        while case .op(let o) = current.kind, let op = BinaryOp(rawValue: o), ops.contains(op) {
            let l = line
            advance()
            e = try make(.binary(op, e, try operand(&self)), line: l)
        }
        return e
    }

    mutating func parseMath1() throws -> Expr { try binaryChain([.add, .subtract]) { try $0.parseConcat() } }
    mutating func parseConcat() throws -> Expr { try binaryChain([.concat]) { try $0.parseMath2() } }

    mutating func parseMath2() throws -> Expr {
        try binaryChain([.multiply, .divide, .floorDivide, .modulo]) { try $0.parsePow() }
    }

    mutating func parsePow() throws -> Expr { try binaryChain([.power]) { try $0.parseUnary() } }

    mutating func parseUnary(withFilter: Bool = true) throws -> Expr {
        let l = line
        var e: Expr
        if skip(.op("-")) {
            e = try make(.negate(try nested { try $0.parseUnary(withFilter: false) }), line: l)
        } else if skip(.op("+")) {
            e = try make(.plus(try nested { try $0.parseUnary(withFilter: false) }), line: l)
        } else {
            e = try parsePrimary()
        }
        e = try parsePostfix(e)
        return withFilter ? try parseFilterExpression(e) : e
    }

    mutating func parsePrimary() throws -> Expr {
        let l = line
        switch current.kind {
        case .name(let n):
            advance()
            switch n {
            case "true", "True": return try make(.literal(.bool(true)), line: l)
            case "false", "False": return try make(.literal(.bool(false)), line: l)
            case "none", "None": return try make(.literal(.none), line: l)
            default: return try make(.name(n), line: l)
            }
        case .string(var s):
            advance()
            while case .string(let more) = current.kind {
                s += more
                advance()
            }
            return try make(.literal(.string(s)), line: l)
        case .integer(let i):
            advance()
            return try make(.literal(.int(i)), line: l)
        case .float(let d):
            advance()
            return try make(.literal(.double(d)), line: l)
        case .op("("):
            advance()
            if skip(.op(")")) { return try make(.tuple([]), line: l) }
            let e = try nested { try $0.parseTuple() }
            try expect(.op(")"))
            return e
        case .op("["): return try nested { try $0.parseList() }
        case .op("{"): return try nested { try $0.parseDict() }
        default:
            throw error("unexpected \(describe(current.kind))")
        }
    }

    mutating func parseList() throws -> Expr {
        let l = line
        try expect(.op("["))
        var items: [Expr] = []
        while !skip(.op("]")) {
            if !items.isEmpty { try expect(.op(",")) }
            if skip(.op("]")) { break }
            items.append(try parseExpression())
        }
        return try make(.list(items), line: l)
    }

    mutating func parseDict() throws -> Expr {
        let l = line
        try expect(.op("{"))
        var pairs: [(Expr, Expr)] = []
        while !skip(.op("}")) {
            if !pairs.isEmpty { try expect(.op(",")) }
            if skip(.op("}")) { break }
            let key = try parseExpression()
            try expect(.op(":"))
            pairs.append((key, try parseExpression()))
        }
        return try make(.dict(pairs), line: l)
    }

    mutating func parsePostfix(_ start: Expr) throws -> Expr {
        var e = start
        while true {
            let l = line
            if skip(.op(".")) {
                switch current.kind {
                case .name(let n):
                    advance()
                    e = try make(.attribute(e, n), line: l)
                case .integer(let i):
                    advance()
                    e = try make(.item(e, Expr(.literal(.int(i)), line: l)), line: l)
                default: throw error("expected a name after '.'")
                }
            } else if skip(.op("[")) {
                e = try parseSubscript(e, line: l)
            } else if current.kind == .op("(") {
                e = try make(.call(e, try callArguments()), line: l)
            } else {
                return e
            }
        }
    }

    /// After `[`: an index or a slice `[a:b:c]`.
    mutating func parseSubscript(_ base: Expr, line l: Int) throws -> Expr {
        var parts: [Expr?] = []
        var isSlice = false
        var part: Expr?
        while true {
            if skip(.op(":")) {
                isSlice = true
                parts.append(part)
                part = nil
                continue
            }
            if skip(.op("]")) { break }
            guard part == nil else { throw error("expected ']' or ':', got \(describe(current.kind))") }
            part = try parseExpression()
        }
        parts.append(part)
        guard isSlice else {
            guard let index = parts[0] else { throw error("expected an index") }
            return try make(.item(base, index), line: l)
        }
        guard parts.count <= 3 else { throw error("a slice has at most three parts") }
        let at = { (k: Int) -> Expr? in k < parts.count ? parts[k] : nil }
        return try make(.slice(base, start: at(0), stop: at(1), step: at(2)), line: l)
    }

    /// `( … )` of a call: positional arguments, then `name=value` ones.
    mutating func callArguments() throws -> Arguments {
        try expect(.op("("))
        var args = Arguments()
        while !skip(.op(")")) {
            if !args.positional.isEmpty || !args.keywords.isEmpty { try expect(.op(",")) }
            if skip(.op(")")) { break }
            if case .op(let o) = current.kind, o == "*" || o == "**" {
                throw error("*args and **kwargs in calls are not supported")
            }
            if case .name(let key) = current.kind, peek() == .op("=") {
                advance()
                advance()
                args.keywords.append((key, try parseExpression()))
            } else {
                guard args.keywords.isEmpty else { throw error("a positional argument follows a keyword argument") }
                args.positional.append(try parseExpression())
            }
        }
        return args
    }

    mutating func dottedName() throws -> String {
        var name = try expectName()
        while current.kind == .op("."), case .name(let more) = peek() {
            advance()
            advance()
            name += "." + more
        }
        return name
    }

    /// `| filter(args)` and `is [not] test args`, left to right.
    mutating func parseFilterExpression(_ start: Expr) throws -> Expr {
        var e = start
        while true {
            let l = line
            if skip(.op("|")) {
                let name = try dottedName()
                let args = current.kind == .op("(") ? try callArguments() : Arguments()
                e = try make(.filter(e, name, args), line: l)
            } else if skipName("is") {
                e = try parseTest(e, line: l)
            } else if current.kind == .op("(") {
                e = try make(.call(e, try callArguments()), line: l)
            } else {
                return e
            }
        }
    }

    mutating func parseTest(_ subject: Expr, line l: Int) throws -> Expr {
        let negated = skipName("not")
        let name = try dottedName()
        var args = Arguments()
        if current.kind == .op("(") {
            args = try callArguments()
        } else if takesBareArgument {
            args.positional = [try parsePostfix(try nested { try $0.parsePrimary() })]
        }
        return try make(.test(subject, name, args, negated: negated), line: l)
    }

    /// `x is divisibleby 3`, `x is sameas none`: a test's one argument without parentheses.
    private var takesBareArgument: Bool {
        switch current.kind {
        case .name(let n): return !["else", "or", "and", "if", "in", "not", "is"].contains(n)
        case .string, .integer, .float, .op("["), .op("{"): return true
        default: return false
        }
    }
}
