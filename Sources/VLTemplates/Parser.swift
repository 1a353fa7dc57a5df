/// Parses a token stream into nodes, as jinja2's parser does for the statements chat templates use.
/// Nesting of blocks and of expressions is bounded by `TemplateLimits.maxDepth`, so no template
/// can overflow the stack.
struct Parser {
    var tokens: [Token]
    var position = 0
    let maxDepth: Int
    var blockDepth = 0
    var expressionDepth = 0
    let stack = StackGuard()

    init(tokens: [Token], maxDepth: Int) {
        self.tokens = tokens
        self.maxDepth = maxDepth
    }

    var current: Token { tokens[min(position, tokens.count - 1)] }
    var line: Int { current.line }

    func peek(_ offset: Int = 1) -> Token.Kind { tokens[min(position + offset, tokens.count - 1)].kind }

    mutating func advance() { if position < tokens.count - 1 { position += 1 } }

    func error(_ message: String) -> TemplateError { .syntax(message, line: line) }

    func describe(_ kind: Token.Kind) -> String {
        switch kind {
        case .text: return "template data"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "end of statement block"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "end of print statement"
        case .name(let n): return "'\(n)'"
        case .string(let s): return Python.stringRepr(s)
        case .integer(let i): return String(i)
        case .float(let d): return Python.floatRepr(d)
        case .op(let o): return "'\(o)'"
        case .end: return "end of template"
        }
    }

    mutating func skip(_ kind: Token.Kind) -> Bool {
        guard current.kind == kind else { return false }
        advance()
        return true
    }

    mutating func expect(_ kind: Token.Kind) throws {
        guard skip(kind) else { throw error("expected \(describe(kind)), got \(describe(current.kind))") }
    }

    mutating func skipName(_ name: String) -> Bool { skip(.name(name)) }

    mutating func expectName() throws -> String {
        guard case .name(let n) = current.kind else { throw error("expected a name, got \(describe(current.kind))") }
        advance()
        return n
    }

    // MARK: - Statements

    mutating func parseTemplate() throws -> [Node] {
        let nodes = try subparse(until: [])
        guard current.kind == .end else { throw error("unexpected \(describe(current.kind))") }
        return nodes
    }

    /// Nodes up to a block whose first word is in `until`; the stream is left at that word.
    mutating func subparse(until: Set<String>) throws -> [Node] {
        var nodes: [Node] = []
        while true {
            switch current.kind {
            case .text(let t):
                nodes.append(.text(t, line: line))
                advance()
            case .variableBegin:
                advance()
                nodes.append(.output(try parseTuple()))
                try expect(.variableEnd)
            case .blockBegin:
                advance()
                if case .name(let word) = current.kind, until.contains(word) { return nodes }
                if let node = try statement() { nodes.append(node) }
            case .end:
                guard until.isEmpty else {
                    let names = until.sorted().map { "'\($0)'" }.joined(separator: " or ")
                    throw error("unexpected end of template: looking for \(names)")
                }
                return nodes
            default:
                throw error("unexpected \(describe(current.kind))")
            }
        }
    }

    /// A body up to one of `until`, one block level deeper.
    mutating func body(until: Set<String>) throws -> [Node] {
        try stack.check("blocks")
        blockDepth += 1
        defer { blockDepth -= 1 }
        guard blockDepth <= maxDepth else {
            throw TemplateError.limit("maxDepth", "blocks nested more than \(maxDepth) deep", line: line)
        }
        return try subparse(until: until)
    }

    /// After `{%`, at the statement's first word.
    mutating func statement() throws -> Node? {
        let word = try expectName()
        switch word {
        case "if": return try ifStatement()
        case "for": return try forStatement()
        case "set": return try setStatement()
        case "macro": return try macroStatement()
        case "filter": return try filterStatement()
        case "with": return try withStatement()
        case "generation": return try generationStatement()
        case "break", "continue":
            let l = line
            try expect(.blockEnd)
            return .loopControl(isBreak: word == "break", line: l)
        case "call", "block", "extends", "include", "import", "from", "do", "autoescape", "trans":
            throw error("{% \(word) %} is not supported in chat templates")
        default:
            throw error("encountered unknown tag '\(word)'")
        }
    }

    mutating func endBlock(_ word: String) throws {
        guard skipName(word) else { throw error("expected '\(word)', got \(describe(current.kind))") }
        try expect(.blockEnd)
    }

    mutating func ifStatement() throws -> Node {
        var branches: [(Expr, [Node])] = []
        var condition = try parseTuple(withConditional: false)
        try expect(.blockEnd)
        while true {
            let nodes = try body(until: ["elif", "else", "endif"])
            branches.append((condition, nodes))
            if skipName("elif") {
                condition = try parseTuple(withConditional: false)
                try expect(.blockEnd)
                continue
            }
            var otherwise: [Node] = []
            if skipName("else") {
                try expect(.blockEnd)
                otherwise = try body(until: ["endif"])
            }
            try endBlock("endif")
            return .conditional(branches, otherwise: otherwise)
        }
    }

    mutating func forStatement() throws -> Node {
        let l = line
        let target = try assignTarget(allowAttribute: false)
        guard skipName("in") else { throw error("expected 'in', got \(describe(current.kind))") }
        let iterable = try parseTuple(withConditional: false)
        var condition: Expr?
        if skipName("if") { condition = try parseExpression() }
        if case .name("recursive") = current.kind { throw error("recursive loops are not supported") }
        try expect(.blockEnd)
        let nodes = try body(until: ["endfor", "else"])
        var otherwise: [Node] = []
        if skipName("else") {
            try expect(.blockEnd)
            otherwise = try body(until: ["endfor"])
        }
        try endBlock("endfor")
        return .loop(
            Loop(
                target: target, iterable: iterable, condition: condition, body: nodes, otherwise: otherwise,
                line: l))
    }

    mutating func setStatement() throws -> Node {
        let l = line
        let target = try assignTarget(allowAttribute: true)
        if skip(.op("=")) {
            let value = try parseTuple()
            try expect(.blockEnd)
            return .assign(target, value, line: l)
        }
        let filters = try filterCalls()
        try expect(.blockEnd)
        let nodes = try body(until: ["endset"])
        try endBlock("endset")
        return .assignBlock(target, filters: filters, body: nodes, line: l)
    }

    /// `| name(args) | …` as in `{% filter %}` and block `set`.
    mutating func filterCalls() throws -> [FilterCall] {
        var calls: [FilterCall] = []
        while skip(.op("|")) || (calls.isEmpty && isFilterStart) {
            let l = line
            let name = try dottedName()
            calls.append(
                FilterCall(
                    name: name, arguments: current.kind == .op("(") ? try callArguments() : Arguments(),
                    line: l))
        }
        return calls
    }

    private var isFilterStart: Bool { if case .name = current.kind { return true }; return false }

    mutating func filterStatement() throws -> Node {
        let l = line
        let filters = try filterCalls()
        try expect(.blockEnd)
        let nodes = try body(until: ["endfilter"])
        try endBlock("endfilter")
        return .filterBlock(filters, body: nodes, line: l)
    }

    mutating func withStatement() throws -> Node {
        var assignments: [(Target, Expr)] = []
        while current.kind != .blockEnd {
            if !assignments.isEmpty { try expect(.op(",")) }
            let target = try assignTarget(allowAttribute: false)
            try expect(.op("="))
            assignments.append((target, try parseExpression()))
        }
        try expect(.blockEnd)
        let nodes = try body(until: ["endwith"])
        try endBlock("endwith")
        return .with(assignments, body: nodes)
    }

    /// transformers' `{% generation %}`: marks assistant text; it renders its body.
    mutating func generationStatement() throws -> Node {
        try expect(.blockEnd)
        let nodes = try body(until: ["endgeneration"])
        try endBlock("endgeneration")
        return .with([], body: nodes)
    }

    mutating func macroStatement() throws -> Node {
        let l = line
        let name = try expectName()
        try expect(.op("("))
        var parameters: [(String, Expr?)] = []
        while !skip(.op(")")) {
            if !parameters.isEmpty { try expect(.op(",")) }
            if skip(.op(")")) { break }
            let p = try expectName()
            parameters.append((p, skip(.op("=")) ? try parseExpression() : nil))
        }
        try expect(.blockEnd)
        let nodes = try body(until: ["endmacro"])
        guard skipName("endmacro") else { throw error("expected 'endmacro'") }
        if case .name(name) = current.kind { advance() }
        try expect(.blockEnd)
        return .macro(Macro(name: name, parameters: parameters, body: nodes, line: l))
    }

    /// A name, `ns.attr` (for `set`) or names separated by commas.
    mutating func assignTarget(allowAttribute: Bool) throws -> Target {
        var targets: [Target] = []
        let parenthesized = skip(.op("("))
        repeat {
            if case .op(")") = current.kind { break }
            let name = try expectName()
            if allowAttribute, targets.isEmpty, skip(.op(".")) {
                return .attribute(name, try expectName())
            }
            targets.append(.name(name))
        } while skip(.op(","))
        if parenthesized { try expect(.op(")")) }
        guard !targets.isEmpty else { throw error("expected a name to assign to") }
        return targets.count == 1 && !parenthesized ? targets[0] : .tuple(targets)
    }
}
