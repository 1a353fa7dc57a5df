import Foundation

/// What a block's execution ended with: its end, or `{% break %}` / `{% continue %}`.
enum Flow { case normal, breakLoop, continueLoop }

/// One render of a parsed template: the variables in scope, the output and the budget.
final class Renderer {
    let budget: Budget
    let clock: TemplateClock
    /// Variables by scope: the template's (with the caller's variables), then loops, `with` and macro calls.
    var frames: [[String: Value]]
    /// Output being written; a block `set`, `{% filter %}` or macro call writes into a new one.
    var buffers: [String] = [""]
    var loopDepth = 0
    var macroDepth = 0

    init(variables: [String: TemplateValue], limits: TemplateLimits, clock: TemplateClock) throws {
        budget = Budget(limits)
        self.clock = clock
        frames = [[:]]
        for (name, v) in variables { frames[0][name] = try Value(v, depthLimit: limits.maxDepth) }
    }

    func write(_ s: String) throws {
        try budget.wrote(s.utf8.count)
        buffers[buffers.count - 1] += s
    }

    /// What `body` writes, instead of writing it.
    func capture(_ body: () throws -> Void) throws -> String {
        buffers.append("")
        defer { buffers.removeLast() }
        try body()
        return buffers[buffers.count - 1]
    }

    func lookup(_ name: String) -> Value {
        for frame in frames.reversed() { if let v = frame[name] { return v } }
        if Globals.names.contains(name) { return .callable(.builtin(name)) }
        return .undefined(name)
    }

    func assign(_ name: String, _ value: Value) { frames[frames.count - 1][name] = value }

    // MARK: - Statements

    func run(_ nodes: [Node]) throws -> Flow {
        try budget.enter("blocks")
        defer { budget.leave() }
        for node in nodes {
            let flow: Flow
            do {
                flow = try execute(node)
            } catch let e as TemplateError {
                throw node.line.map { e.at($0) } ?? e
            }
            if flow != .normal { return flow }
        }
        return .normal
    }

    private func execute(_ node: Node) throws -> Flow {
        switch node {
        case .text(let t, _): try write(t)
        case .output(let e): try write(try eval(e).text(budget))
        case .conditional(let branches, let otherwise):
            for (test, body) in branches {
                if try eval(test).truthy { return try run(body) }
            }
            return try run(otherwise)
        case .loop(let loop): try runLoop(loop)
        case .assign(let target, let e, let line):
            let v = try eval(e)
            try at(line) { try assign(target, v) }
        case .assignBlock(let target, let filters, let body, let line):
            let v = try applyFilters(filters, to: .string(try capture { _ = try run(body) }))
            try at(line) { try assign(target, v) }
        case .macro(let m): assign(m.name, .callable(.macro(m)))
        case .filterBlock(let filters, let body, _):
            try write(try applyFilters(filters, to: .string(try capture { _ = try run(body) })).text(budget))
        case .with(let assignments, let body): return try runWith(assignments, body)
        case .loopControl(let isBreak, let line):
            guard loopDepth > 0 else {
                throw TemplateError("'\(isBreak ? "break" : "continue")' outside a loop", line: line)
            }
            return isBreak ? .breakLoop : .continueLoop
        }
        return .normal
    }

    /// Runs `body`, giving its errors `line` when they have none.
    func at<T>(_ line: Int, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as TemplateError { throw e.at(line) }
    }

    private func runWith(_ assignments: [(Target, Expr)], _ body: [Node]) throws -> Flow {
        let values = try assignments.map { ($0.0, try eval($0.1)) }
        frames.append([:])
        defer { frames.removeLast() }
        for (target, v) in values { try assign(target, v) }
        return try run(body)
    }

    /// The value when its containers nest at most `maxDepth` deep (which keeps every walk through a
    /// value, and its release, off the stack's end).
    @discardableResult
    func checkedDepth(_ value: Value) throws -> Value {
        var visits = 0, namespaces = 0
        let depth = value.nesting(cap: budget.limits.maxDepth, visits: &visits, namespaces: &namespaces)
        try budget.walked(visits)
        guard depth <= budget.limits.maxDepth else {
            throw TemplateError.limit("maxDepth", "a value nested more than \(budget.limits.maxDepth) deep")
        }
        return value
    }

    /// What a namespace may hold: no namespace (so namespaces never form a cycle), nested as deep as a variable.
    func checkNamespaceValue(_ value: Value) throws {
        var visits = 0, namespaces = 0
        let depth = value.nesting(cap: budget.limits.maxDepth, visits: &visits, namespaces: &namespaces)
        try budget.walked(visits)
        guard namespaces == 0 else { throw TemplateError("a namespace cannot hold a namespace") }
        guard depth <= budget.limits.maxDepth else {
            throw TemplateError.limit("maxDepth", "a value nested more than \(budget.limits.maxDepth) deep")
        }
    }

    func assign(_ target: Target, _ value: Value) throws {
        switch target {
        case .name(let n): assign(n, try checkedDepth(value))
        case .attribute(let owner, let attribute):
            guard case .namespace(let ns) = lookup(owner) else {
                throw TemplateError("cannot assign attribute on non-namespace object")
            }
            guard !attribute.hasPrefix("_") else {
                throw TemplateError("chat templates cannot store underscore-prefixed attributes on a namespace")
            }
            try checkNamespaceValue(value)
            ns.attributes[attribute] = value
        case .tuple(let targets):
            let items = try iterate(value)
            guard items.count == targets.count else {
                let which = items.count > targets.count ? "too many" : "not enough"
                throw TemplateError("\(which) values to unpack (expected \(targets.count), got \(items.count))")
            }
            for (t, v) in zip(targets, items) { try assign(t, v) }
        }
    }

    private func runLoop(_ loop: Loop) throws {
        let source = try iterate(try eval(loop.iterable))
        loopDepth += 1
        frames.append([:])
        defer {
            loopDepth -= 1
            frames.removeLast()
        }
        let top = frames.count - 1
        var items = source
        if let condition = loop.condition {
            items = []
            for item in source {
                try budget.step()
                frames[top].removeAll(keepingCapacity: true)
                try assign(loop.target, item)
                if try eval(condition).truthy { items.append(item) }
            }
        }
        // Each iteration has its own scope: what `set` assigns in one is gone in the next (as in jinja).
        for (index, item) in items.enumerated() {
            try budget.step()
            frames[top].removeAll(keepingCapacity: true)
            try assign(loop.target, item)
            frames[top]["loop"] = .loop(LoopInfo(items: items, index0: index, depth0: loopDepth - 1))
            if try run(loop.body) == .breakLoop { break }
        }
        if items.isEmpty {
            frames[top].removeAll()
            _ = try run(loop.otherwise)
        }
    }

    /// The elements a for loop or a filter walks through: a list's items, a dict's keys, a
    /// string's characters; undefined is empty.
    func iterate(_ v: Value) throws -> [Value] {
        switch v {
        case .list(let l), .tuple(let l): return l
        case .dict(let d): return d.keys.map { .string($0) }
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        case .namespace(let ns): return ns.attributes.keys.map { .string($0) }
        default: throw TemplateError("'\(v.typeName)' object is not iterable")
        }
    }

    func applyFilters(_ filters: [FilterCall], to value: Value) throws -> Value {
        var v = value
        for f in filters {
            let args = try evalArguments(f.arguments)
            v = try at(f.line) { try Filters.apply(f.name, v, args, self) }
        }
        return v
    }

    // MARK: - Macros

    func callMacro(_ m: Macro, _ args: Args) throws -> Value {
        try budget.step()
        macroDepth += 1
        defer { macroDepth -= 1 }
        guard macroDepth <= budget.limits.maxDepth else {
            throw TemplateError.limit("maxDepth", "macro calls nested more than \(budget.limits.maxDepth) deep")
        }
        guard args.positional.count <= m.parameters.count else {
            throw TemplateError("macro '\(m.name)' takes not more than \(m.parameters.count) argument(s)")
        }
        let saved = frames
        frames = [frames[0], [:]]
        defer { frames = saved }
        for (k, _) in args.keywords where !m.parameters.contains(where: { $0.0 == k }) {
            throw TemplateError("macro '\(m.name)' takes no keyword argument '\(k)'")
        }
        for (index, (name, defaultValue)) in m.parameters.enumerated() {
            if index < args.positional.count {
                assign(name, try checkedDepth(args.positional[index]))
            } else if let v = args.keywords.first(where: { $0.0 == name })?.1 {
                assign(name, try checkedDepth(v))
            } else {
                assign(name, try defaultValue.map { try eval($0) } ?? .undefined(name))
            }
        }
        return .string(try capture { _ = try run(m.body) })
    }
}

/// Evaluated call arguments.
struct Args {
    var positional: [Value] = []
    var keywords: [(String, Value)] = []

    init(_ positional: [Value] = [], _ keywords: [(String, Value)] = []) {
        self.positional = positional
        self.keywords = keywords
    }

    /// The argument at `index`, or named `name`.
    func get(_ index: Int, _ name: String) -> Value? {
        if index < positional.count { return positional[index] }
        return keywords.first { $0.0 == name }?.1
    }

    /// Refuses arguments beyond `names` (positional or by keyword), as Python's signature would.
    func check(_ function: String, _ names: [String]) throws {
        if positional.count > names.count {
            throw TemplateError("\(function)() takes at most \(names.count) argument(s) (\(positional.count) given)")
        }
        for (k, _) in keywords where !names.contains(k) {
            throw TemplateError("\(function)() got an unexpected keyword argument '\(k)'")
        }
    }
}
