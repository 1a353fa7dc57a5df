// The parsed form of a template.

/// An expression, with its line and how deep its tree goes (which bounds evaluation's stack).
struct Expr {
    let kind: ExprKind
    let line: Int
    let depth: Int

    init(_ kind: ExprKind, line: Int) {
        self.kind = kind
        self.line = line
        depth = 1 + kind.children.reduce(0) { max($0, $1.depth) }
    }
}

indirect enum ExprKind {
    case literal(Value)
    case name(String)
    case list([Expr])
    case tuple([Expr])
    case dict([(Expr, Expr)])
    case attribute(Expr, String)
    case item(Expr, Expr)
    case slice(Expr, start: Expr?, stop: Expr?, step: Expr?)
    case call(Expr, Arguments)
    case filter(Expr, String, Arguments)
    case test(Expr, String, Arguments, negated: Bool)
    case negate(Expr)
    case plus(Expr)
    case not(Expr)
    case binary(BinaryOp, Expr, Expr)
    case and(Expr, Expr)
    case or(Expr, Expr)
    case compare(Expr, [(CompareOp, Expr)])
    case conditional(test: Expr, then: Expr, otherwise: Expr?)

    var children: [Expr] {
        switch self {
        case .literal, .name: return []
        case .list(let items), .tuple(let items): return items
        case .dict(let pairs): return pairs.flatMap { [$0.0, $0.1] }
        case .attribute(let e, _), .negate(let e), .plus(let e), .not(let e): return [e]
        case .item(let a, let b), .binary(_, let a, let b), .and(let a, let b), .or(let a, let b): return [a, b]
        case .slice(let e, let a, let b, let c): return [e] + [a, b, c].compactMap { $0 }
        case .call(let e, let args), .filter(let e, _, let args), .test(let e, _, let args, _): return [e] + args.all
        case .compare(let e, let ops): return [e] + ops.map(\.1)
        case .conditional(let t, let a, let b): return [t, a] + (b.map { [$0] } ?? [])
        }
    }
}

enum BinaryOp: String {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", modulo = "%", power = "**"
    case concat = "~"
}

enum CompareOp: String {
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
    case contains = "in", notContains = "not in"
}

/// A call's arguments as written: positional then `name=value`.
struct Arguments {
    var positional: [Expr] = []
    var keywords: [(String, Expr)] = []

    var all: [Expr] { positional + keywords.map(\.1) }
}

/// What `set` and `for` assign to.
indirect enum Target {
    case name(String)
    case attribute(String, String)
    case tuple([Target])
}

indirect enum Node {
    case text(String, line: Int)
    case output(Expr)
    case conditional([(Expr, [Node])], otherwise: [Node])
    case loop(Loop)
    case assign(Target, Expr, line: Int)
    case assignBlock(Target, filters: [FilterCall], body: [Node], line: Int)
    case macro(Macro)
    case filterBlock([FilterCall], body: [Node], line: Int)
    case with([(Target, Expr)], body: [Node])
    case loopControl(isBreak: Bool, line: Int)
}

extension Node {
    /// Where the node starts, for errors that happen in it.
    var line: Int? {
        switch self {
        case .text(_, let line), .assign(_, _, let line), .assignBlock(_, _, _, let line), .filterBlock(_, _, let line),
            .loopControl(_, let line):
            return line
        case .output(let e): return e.line
        case .loop(let loop): return loop.line
        case .macro(let m): return m.line
        case .conditional(let branches, _): return branches.first?.0.line
        case .with: return nil
        }
    }
}

struct Loop {
    let target: Target
    let iterable: Expr
    let condition: Expr?
    let body: [Node]
    let otherwise: [Node]
    let line: Int
}

/// A filter applied by `{% filter %}` or a block `{% set x | f %}`.
struct FilterCall {
    let name: String
    let arguments: Arguments
    let line: Int
}
