/// jinja refuses an unknown filter or test when it compiles a template, except inside an `if`
/// (its test and branches) or a conditional expression, where the error waits until it runs.
struct Validator {
    static func check(_ nodes: [Node]) throws {
        // The tree is as deep as the parser allowed, which it checked against the stack.
        for node in nodes { try check(node, soft: false) }
    }

    private static func check(_ node: Node, soft: Bool) throws {
        switch node {
        case .text, .loopControl: break
        case .output(let e): try check(e, soft: soft)
        case .conditional(let branches, let otherwise):
            for (test, body) in branches {
                try check(test, soft: true)
                for n in body { try check(n, soft: true) }
            }
            for n in otherwise { try check(n, soft: true) }
        case .loop(let loop):
            try check(loop.iterable, soft: soft)
            if let c = loop.condition { try check(c, soft: soft) }
            for n in loop.body + loop.otherwise { try check(n, soft: soft) }
        case .assign(_, let e, _): try check(e, soft: soft)
        case .assignBlock(_, let filters, let body, _), .filterBlock(let filters, let body, _):
            if !soft { for f in filters { try known(filter: f.name, line: f.line) } }
            for f in filters { for a in f.arguments.all { try check(a, soft: soft) } }
            for n in body { try check(n, soft: soft) }
        case .macro(let m):
            for (_, d) in m.parameters { if let d { try check(d, soft: soft) } }
            for n in m.body { try check(n, soft: soft) }
        case .with(let assignments, let body):
            for (_, e) in assignments { try check(e, soft: soft) }
            for n in body { try check(n, soft: soft) }
        }
    }

    private static func check(_ e: Expr, soft: Bool) throws {
        var isSoft = soft
        switch e.kind {
        case .filter(_, let name, _): if !soft { try known(filter: name, line: e.line) }
        case .test(_, let name, _, _):
            if !soft, !Tests.names.contains(name) {
                throw TemplateError.syntax("no test named '\(name)'", line: e.line)
            }
        case .conditional: isSoft = true
        default: break
        }
        for child in e.kind.children { try check(child, soft: isSoft) }
    }

    private static func known(filter name: String, line: Int) throws {
        guard Filters.names.contains(name) else { throw TemplateError.syntax("no filter named '\(name)'", line: line) }
    }
}
