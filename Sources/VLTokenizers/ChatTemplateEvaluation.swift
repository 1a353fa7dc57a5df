import Foundation

// The parsed form of a chat template and its evaluation.

indirect enum Expr {
    case literal(TemplateValue)
    case variable(String)
    case list([Expr])
    case attribute(Expr, String)
    case subscriptAt(Expr, Expr)
    case slice(Expr, Expr?, Expr?)
    case call(Expr, [Expr])
    case filter(Expr, String, [Expr])
    case unary(String, Expr)
    case binary(String, Expr, Expr)
    case test(Expr, String, negated: Bool)
    case conditional(Expr, Expr, Expr)
    case keyword(String, Expr)  // name=value in a call's arguments
}

indirect enum Node {
    case text(String)
    case output(Expr)
    case conditional([(Expr, [Node])], otherwise: [Node])
    case loop(names: [String], iterable: Expr, body: [Node], otherwise: [Node])
    case assign(target: [String], Expr)
}

struct Parser {
    let tokens: [Token]
    var position = 0

    init(tokens: [Token]) { self.tokens = tokens }

    /// Nodes until one of the statements `until` (its first word), which is left unconsumed.
    mutating func parseBlock(until: Set<String>) throws -> [Node] {
        var nodes: [Node] = []
        while position < tokens.count {
            switch tokens[position] {
            case .text(let t):
                nodes.append(.text(t))
                position += 1
            case .output(let lexemes):
                nodes.append(.output(try ExprParser.parse(lexemes)))
                position += 1
            case .statement(let lexemes):
                guard case .name(let keyword)? = lexemes.first else { throw TemplateError("chat template: empty statement") }
                if until.contains(keyword) { return nodes }
                position += 1
                nodes += try statement(keyword, Array(lexemes.dropFirst()))
            }
        }
        if !until.isEmpty { throw TemplateError("chat template: missing {% \(until.sorted().joined(separator: " or ")) %}") }
        return nodes
    }

    private func nextKeyword() -> String? {
        guard position < tokens.count, case .statement(let l) = tokens[position], case .name(let k)? = l.first else { return nil }
        return k
    }

    private mutating func statement(_ keyword: String, _ rest: [Lexeme]) throws -> [Node] {
        switch keyword {
        case "if":
            var branches: [(Expr, [Node])] = []
            var condition = try ExprParser.parse(rest)
            var otherwise: [Node] = []
            while true {
                let body = try parseBlock(until: ["elif", "else", "endif"])
                branches.append((condition, body))
                guard case .statement(let l) = tokens[position] else { break }
                position += 1
                if case .name("elif")? = l.first {
                    condition = try ExprParser.parse(Array(l.dropFirst()))
                    continue
                }
                if case .name("else")? = l.first {
                    otherwise = try parseBlock(until: ["endif"])
                    position += 1
                }
                break
            }
            return [.conditional(branches, otherwise: otherwise)]
        case "for":
            guard let inIndex = rest.firstIndex(of: .name("in")) else { throw TemplateError("chat template: for without in") }
            let names = rest[..<inIndex].compactMap { if case .name(let n) = $0 { return n }; return nil }
            let iterableLexemes = Array(rest[(inIndex + 1)...])
            if iterableLexemes.contains(.name("if")) || iterableLexemes.contains(.name("recursive")) {
                throw TemplateError("chat template: `for … if` and recursive loops are not supported")
            }
            let iterable = try ExprParser.parse(iterableLexemes)
            let body = try parseBlock(until: ["else", "endfor"])
            var otherwise: [Node] = []
            if nextKeyword() == "else" {
                position += 1
                otherwise = try parseBlock(until: ["endfor"])
            }
            position += 1
            return [.loop(names: names, iterable: iterable, body: body, otherwise: otherwise)]
        case "set":
            guard let eq = rest.firstIndex(of: .op("=")) else { throw TemplateError("chat template: block `set` is not supported") }
            let target = rest[..<eq].compactMap { if case .name(let n) = $0 { return n }; return nil }
            return [.assign(target: target, try ExprParser.parse(Array(rest[(eq + 1)...])))]
        case "generation":
            let body = try parseBlock(until: ["endgeneration"])
            position += 1
            return body
        default:
            throw TemplateError("chat template: {% \(keyword) %} is not supported")
        }
    }
}

struct ExprParser {
    let lexemes: [Lexeme]
    var i = 0

    init(_ lexemes: [Lexeme]) { self.lexemes = lexemes }

    /// Parses a whole expression from lexemes.
    static func parse(_ lexemes: [Lexeme]) throws -> Expr {
        var p = ExprParser(lexemes)
        return try p.parseComplete()
    }

    mutating func parseComplete() throws -> Expr {
        let e = try conditional()
        guard i == lexemes.count else { throw TemplateError("chat template: unexpected \(lexemes[i]) in an expression") }
        return e
    }

    private func peek(_ offset: Int = 0) -> Lexeme? { i + offset < lexemes.count ? lexemes[i + offset] : nil }
    private mutating func accept(_ l: Lexeme) -> Bool { if peek() == l { i += 1; return true }; return false }
    private mutating func expect(_ l: Lexeme) throws { guard accept(l) else { throw TemplateError("chat template: expected \(l)") } }

    mutating func conditional() throws -> Expr {
        let value = try or()
        if accept(.name("if")) {
            let condition = try or()
            let otherwise = accept(.name("else")) ? try conditional() : .literal(.none)
            return .conditional(condition, value, otherwise)
        }
        return value
    }

    mutating func or() throws -> Expr {
        var e = try and()
        while accept(.name("or")) { e = .binary("or", e, try and()) }
        return e
    }

    mutating func and() throws -> Expr {
        var e = try not()
        while accept(.name("and")) { e = .binary("and", e, try not()) }
        return e
    }

    mutating func not() throws -> Expr { accept(.name("not")) ? .unary("not", try not()) : try comparison() }

    mutating func comparison() throws -> Expr {
        var e = try additive()
        while true {
            if case .op(let o)? = peek(), ["==", "!=", "<", ">", "<=", ">="].contains(o) {
                i += 1
                e = .binary(o, e, try additive())
            } else if accept(.name("in")) {
                e = .binary("in", e, try additive())
            } else if peek() == .name("not"), peek(1) == .name("in") {
                i += 2
                e = .unary("not", .binary("in", e, try additive()))
            } else if accept(.name("is")) {
                let negated = accept(.name("not"))
                guard case .name(let test)? = peek() else { throw TemplateError("chat template: expected a test after `is`") }
                i += 1
                e = .test(e, test, negated: negated)
            } else {
                return e
            }
        }
    }

    mutating func additive() throws -> Expr {
        var e = try multiplicative()
        while case .op(let o)? = peek(), ["+", "-", "~"].contains(o) {
            i += 1
            e = .binary(o, e, try multiplicative())
        }
        return e
    }

    mutating func multiplicative() throws -> Expr {
        var e = try unary()
        while case .op(let o)? = peek(), ["*", "/", "//", "%"].contains(o) {
            i += 1
            e = .binary(o, e, try unary())
        }
        return e
    }

    mutating func unary() throws -> Expr { accept(.op("-")) ? .unary("-", try unary()) : try filtered() }

    /// Filters bind tighter than binary operators: `'a' + x | trim` trims x only.
    mutating func filtered() throws -> Expr {
        var e = try postfix()
        while accept(.op("|")) {
            guard case .name(let name)? = peek() else { throw TemplateError("chat template: expected a filter name") }
            i += 1
            e = .filter(e, name, accept(.op("(")) ? try arguments() : [])
        }
        return e
    }

    mutating func arguments() throws -> [Expr] {
        var args: [Expr] = []
        if accept(.op(")")) { return args }
        repeat {
            if case .name(let key)? = peek(), peek(1) == .op("=") {
                i += 2
                args.append(.keyword(key, try conditional()))
            } else {
                args.append(try conditional())
            }
        } while accept(.op(","))
        try expect(.op(")"))
        return args
    }

    mutating func postfix() throws -> Expr {
        var e = try primary()
        while true {
            if accept(.op(".")) {
                guard case .name(let n)? = peek() else { throw TemplateError("chat template: expected a name after `.`") }
                i += 1
                e = .attribute(e, n)
            } else if accept(.op("[")) {
                if accept(.op(":")) {
                    let end = peek() == .op("]") ? nil : try conditional()
                    try expect(.op("]"))
                    e = .slice(e, nil, end)
                    continue
                }
                let index = try conditional()
                if accept(.op(":")) {
                    let end = peek() == .op("]") ? nil : try conditional()
                    try expect(.op("]"))
                    e = .slice(e, index, end)
                } else {
                    try expect(.op("]"))
                    e = .subscriptAt(e, index)
                }
            } else if accept(.op("(")) {
                e = .call(e, try arguments())
            } else {
                return e
            }
        }
    }

    mutating func primary() throws -> Expr {
        guard let l = peek() else { throw TemplateError("chat template: an expression ends too early") }
        i += 1
        switch l {
        case .string(var s):
            while case .string(let more)? = peek() { s += more; i += 1 }  // adjacent literals join
            return .literal(.string(s))
        case .number(let n, let isInt): return .literal(isInt ? .int(Int(n)) : .double(n))
        case .name(let n):
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .variable(n)
            }
        case .op("("):
            let e = try conditional()
            try expect(.op(")"))
            return e
        case .op("["):
            var items: [Expr] = []
            if !accept(.op("]")) {
                repeat { items.append(try conditional()) } while accept(.op(","))
                try expect(.op("]"))
            }
            return .list(items)
        default:
            throw TemplateError("chat template: unexpected \(l)")
        }
    }
}

/// Variables by scope (a for loop opens a frame; `set` writes the innermost).
struct Scope {
    var frames: [[String: TemplateValue]]
    /// Namespaces are shared by reference, so `set ns.x` inside a loop is seen after it.
    var namespaces: [Int: [String: TemplateValue]] = [:]

    func lookup(_ name: String) -> TemplateValue? {
        for f in frames.reversed() { if let v = f[name] { return v } }
        return nil
    }
}

enum Evaluator {
    static func run(_ nodes: [Node], _ scope: inout Scope, _ out: inout String) throws {
        for node in nodes {
            switch node {
            case .text(let t): out += t
            case .output(let e): out += try eval(e, &scope).text
            case .conditional(let branches, let otherwise):
                if let (_, body) = try branches.first(where: { try eval($0.0, &scope).truthy }) {
                    try run(body, &scope, &out)
                } else {
                    try run(otherwise, &scope, &out)
                }
            case .loop(let names, let iterable, let body, let otherwise):
                let items = try elements(eval(iterable, &scope))
                if items.isEmpty { try run(otherwise, &scope, &out) }
                for (index, item) in items.enumerated() {
                    var frame: [String: TemplateValue] = ["loop": .object([
                        ("index", .int(index + 1)), ("index0", .int(index)), ("first", .bool(index == 0)),
                        ("last", .bool(index == items.count - 1)), ("length", .int(items.count)),
                        ("revindex", .int(items.count - index)), ("revindex0", .int(items.count - index - 1)),
                    ])]
                    if names.count == 1 {
                        frame[names[0]] = item
                    } else if case .list(let parts) = item, parts.count == names.count {
                        for (n, v) in zip(names, parts) { frame[n] = v }
                    } else {
                        throw TemplateError("chat template: cannot unpack \(item.repr) into \(names.joined(separator: ", "))")
                    }
                    scope.frames.append(frame)
                    defer { scope.frames.removeLast() }
                    try run(body, &scope, &out)
                }
            case .assign(let target, let e):
                let value = try eval(e, &scope)
                if target.count == 2, case .dict(let d, _)? = scope.lookup(target[0]), case .int(let id)? = d["__namespace__"] {
                    scope.namespaces[id, default: [:]][target[1]] = value
                } else if target.count == 1 {
                    scope.frames[scope.frames.count - 1][target[0]] = value
                } else {
                    throw TemplateError("chat template: cannot assign to \(target.joined(separator: "."))")
                }
            }
        }
    }

    static func elements(_ v: TemplateValue) throws -> [TemplateValue] {
        switch v {
        case .list(let l): return l
        case .dict(_, let keys): return keys.map { .string($0) }
        case .string(let s): return s.map { .string(String($0)) }
        case .none: return []
        default: throw TemplateError("chat template: cannot iterate over \(v.repr)")
        }
    }

    static func eval(_ e: Expr, _ scope: inout Scope) throws -> TemplateValue {
        switch e {
        case .literal(let v): return v
        case .variable(let n): return scope.lookup(n) ?? .none
        case .list(let items): return .list(try items.map { try eval($0, &scope) })
        case .attribute(let base, let name): return member(try eval(base, &scope), name, scope)
        case .subscriptAt(let base, let index): return try subscriptValue(eval(base, &scope), eval(index, &scope), scope)
        case .slice(let base, let from, let to):
            let v = try eval(base, &scope)
            let items: [TemplateValue]
            if case .string(let s) = v { items = s.map { .string(String($0)) } } else { items = try elements(v) }
            func clampIndex(_ x: Expr?, _ fallback: Int) throws -> Int {
                guard let x, case .int(let i) = try eval(x, &scope) else { return fallback }
                return Swift.max(0, Swift.min(items.count, i < 0 ? items.count + i : i))
            }
            let lo = try clampIndex(from, 0), hi = try clampIndex(to, items.count)
            let part = lo < hi ? Array(items[lo..<hi]) : []
            if case .string = v { return .string(part.map(\.text).joined()) }
            return .list(part)
        case .call(.variable("namespace"), let args):
            let id = scope.namespaces.count
            var fields: [String: TemplateValue] = [:]
            for a in args {
                guard case .keyword(let k, let v) = a else { throw TemplateError("chat template: namespace takes name=value arguments") }
                fields[k] = try eval(v, &scope)
            }
            scope.namespaces[id] = fields
            return .object([("__namespace__", .int(id))])
        case .call(let callee, let args):
            if args.contains(where: { if case .keyword = $0 { return true }; return false }) {
                throw TemplateError("chat template: keyword arguments are only supported for namespace()")
            }
            return try call(callee, args.map { try eval($0, &scope) }, &scope)
        case .keyword(let k, _): throw TemplateError("chat template: unexpected keyword argument \(k)")
        case .filter(let base, let name, let args): return try filter(eval(base, &scope), name, args.map { try eval($0, &scope) })
        case .unary(let op, let x):
            let v = try eval(x, &scope)
            if op == "not" { return .bool(!v.truthy) }
            if case .int(let i) = v { return .int(-i) }
            if case .double(let d) = v { return .double(-d) }
            throw TemplateError("chat template: cannot negate \(v.repr)")
        case .binary(let op, let l, let r):
            if op == "and" { let a = try eval(l, &scope); return a.truthy ? try eval(r, &scope) : a }
            if op == "or" { let a = try eval(l, &scope); return a.truthy ? a : try eval(r, &scope) }
            return try binary(op, eval(l, &scope), eval(r, &scope))
        case .test(let x, let name, let negated):
            let v = try eval(x, &scope)
            let result: Bool
            switch name {
            case "defined": if case .variable(let n) = x { result = scope.lookup(n) != nil } else { result = v != .none }
            case "undefined": if case .variable(let n) = x { result = scope.lookup(n) == nil } else { result = v == .none }
            case "none": result = v == .none
            case "string": if case .string = v { result = true } else { result = false }
            case "mapping": if case .dict = v { result = true } else { result = false }
            case "iterable", "sequence": if case .list = v { result = true } else if case .string = v { result = true } else { result = false }
            case "number": if case .int = v { result = true } else if case .double = v { result = true } else { result = false }
            case "true": result = v == .bool(true)
            case "false": result = v == .bool(false)
            default: throw TemplateError("chat template: test `is \(name)` is not supported")
            }
            return .bool(result != negated)
        case .conditional(let c, let a, let b): return try eval(c, &scope).truthy ? eval(a, &scope) : eval(b, &scope)
        }
    }

    static func member(_ v: TemplateValue, _ name: String, _ scope: Scope) -> TemplateValue {
        if case .dict(let d, _) = v {
            if case .int(let id)? = d["__namespace__"] { return scope.namespaces[id]?[name] ?? .none }
            return d[name] ?? .none
        }
        return .none
    }

    static func subscriptValue(_ v: TemplateValue, _ index: TemplateValue, _ scope: Scope) throws -> TemplateValue {
        switch (v, index) {
        case (.dict, .string(let k)): return member(v, k, scope)
        case (.list(let l), .int(let i)):
            let j = i < 0 ? l.count + i : i
            guard j >= 0 && j < l.count else { throw TemplateError("chat template: index \(i) out of range") }
            return l[j]
        case (.string(let s), .int(let i)):
            let chars = Array(s), j = i < 0 ? chars.count + i : i
            guard j >= 0 && j < chars.count else { throw TemplateError("chat template: index \(i) out of range") }
            return .string(String(chars[j]))
        default: return .none
        }
    }

    static func binary(_ op: String, _ a: TemplateValue, _ b: TemplateValue) throws -> TemplateValue {
        switch op {
        case "==": return .bool(equal(a, b))
        case "!=": return .bool(!equal(a, b))
        case "~": return .string(a.text + b.text)
        case "in":
            switch b {
            case .string(let s): return .bool(s.contains(a.text))
            case .list(let l): return .bool(l.contains { equal($0, a) })
            case .dict(let d, _): return .bool(d[a.text] != nil)
            default: return .bool(false)
            }
        default: break
        }
        switch (a, b) {
        case (.string(let x), .string(let y)) where op == "+": return .string(x + y)
        case (.list(let x), .list(let y)) where op == "+": return .list(x + y)
        case (.string(let x), .string(let y)):
            switch op {
            case "<": return .bool(x < y)
            case ">": return .bool(x > y)
            case "<=": return .bool(x <= y)
            case ">=": return .bool(x >= y)
            default: break
            }
        case (.int(let x), .int(let y)):
            switch op {
            case "+": return .int(x + y)
            case "-": return .int(x - y)
            case "*": return .int(x * y)
            case "//": guard y != 0 else { break }; return .int(Int((Double(x) / Double(y)).rounded(.down)))
            case "%": guard y != 0 else { break }; return .int(((x % y) + y) % y)
            case "/": guard y != 0 else { break }; return .double(Double(x) / Double(y))
            case "<": return .bool(x < y)
            case ">": return .bool(x > y)
            case "<=": return .bool(x <= y)
            case ">=": return .bool(x >= y)
            default: break
            }
        default:
            if let x = number(a), let y = number(b) {
                switch op {
                case "+": return .double(x + y)
                case "-": return .double(x - y)
                case "*": return .double(x * y)
                case "/": return .double(x / y)
                case "<": return .bool(x < y)
                case ">": return .bool(x > y)
                case "<=": return .bool(x <= y)
                case ">=": return .bool(x >= y)
                default: break
                }
            }
        }
        throw TemplateError("chat template: cannot apply \(op) to \(a.repr) and \(b.repr)")
    }

    static func number(_ v: TemplateValue) -> Double? {
        if case .int(let i) = v { return Double(i) }
        if case .double(let d) = v { return d }
        return nil
    }

    static func equal(_ a: TemplateValue, _ b: TemplateValue) -> Bool {
        if let x = number(a), let y = number(b) { return x == y }
        return a == b
    }

    static func call(_ callee: Expr, _ args: [TemplateValue], _ scope: inout Scope) throws -> TemplateValue {
        if case .variable(let name) = callee {
            switch name {
            case "raise_exception": throw TemplateError(args.first?.text ?? "raise_exception")
            case "range":
                let bounds = args.compactMap { v -> Int? in if case .int(let i) = v { return i }; return nil }
                let (lo, hi) = bounds.count >= 2 ? (bounds[0], bounds[1]) : (0, bounds.first ?? 0)
                return .list(lo < hi ? (lo..<hi).map { .int($0) } : [])
            default: throw TemplateError("chat template: function \(name) is not supported")
            }
        }
        guard case .attribute(let baseExpr, let method) = callee else { throw TemplateError("chat template: this call is not supported") }
        let base = try eval(baseExpr, &scope)
        switch (base, method) {
        case (.string(let s), "strip"): return .string(s.trimmingCharacters(in: .whitespacesAndNewlines))
        case (.string(let s), "lstrip"): return .string(String(s.drop { $0.isWhitespace }))
        case (.string(let s), "rstrip"):
            var t = Substring(s)
            while t.last?.isWhitespace == true { t = t.dropLast() }
            return .string(String(t))
        case (.string(let s), "upper"): return .string(s.uppercased())
        case (.string(let s), "lower"): return .string(s.lowercased())
        case (.string(let s), "title"): return .string(s.capitalized)
        case (.string(let s), "startswith"): return .bool(s.hasPrefix(args.first?.text ?? ""))
        case (.string(let s), "endswith"): return .bool(s.hasSuffix(args.first?.text ?? ""))
        case (.string(let s), "split"):
            let parts = args.isEmpty ? s.split(whereSeparator: { $0.isWhitespace }).map(String.init) : s.components(separatedBy: args[0].text)
            return .list(parts.map { .string($0) })
        case (.string(let s), "replace") where args.count == 2:
            return .string(s.replacingOccurrences(of: args[0].text, with: args[1].text))
        case (.dict(let d, let keys), "items"): return .list(keys.map { .list([.string($0), d[$0]!]) })
        case (.dict(let d, let keys), "keys"): _ = d; return .list(keys.map { .string($0) })
        case (.dict(let d, let keys), "values"): return .list(keys.map { d[$0]! })
        case (.dict(let d, _), "get"): return d[args.first?.text ?? ""] ?? (args.count > 1 ? args[1] : .none)
        default: throw TemplateError("chat template: method \(method) on \(base.repr) is not supported")
        }
    }

    static func filter(_ v: TemplateValue, _ name: String, _ args: [TemplateValue]) throws -> TemplateValue {
        switch name {
        case "trim": return .string(v.text.trimmingCharacters(in: .whitespacesAndNewlines))
        case "upper": return .string(v.text.uppercased())
        case "lower": return .string(v.text.lowercased())
        case "string": return .string(v.text)
        case "length", "count":
            if case .string(let s) = v { return .int(s.count) }
            return .int(try elements(v).count)
        case "first": return try elements(v).first ?? .none
        case "last": return try elements(v).last ?? .none
        case "list": return .list(try elements(v))
        case "join": return .string(try elements(v).map(\.text).joined(separator: args.first?.text ?? ""))
        case "default": return v == .none ? (args.first ?? .string("")) : v
        case "tojson": return .string(json(v))
        case "selectattr", "rejectattr":
            guard let attribute = args.first?.text else { throw TemplateError("chat template: \(name) needs an attribute") }
            let keep = try elements(v).filter { item in
                let value = member(item, attribute, Scope(frames: []))
                let matches: Bool
                if args.count >= 3, ["equalto", "==", "eq"].contains(args[1].text) { matches = equal(value, args[2]) } else if args.count == 1 {
                    matches = value.truthy
                } else {
                    return false
                }
                return name == "selectattr" ? matches : !matches
            }
            if args.count >= 2, !["equalto", "==", "eq"].contains(args[1].text) {
                throw TemplateError("chat template: \(name) test \(args[1].text) is not supported")
            }
            return .list(keep)
        default: throw TemplateError("chat template: filter \(name) is not supported")
        }
    }

    /// JSON as jinja2's tojson writes it (sorted keys, ", " and ": " separators).
    static func json(_ v: TemplateValue) -> String {
        switch v {
        case .none: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s):
            let data = try! JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
            return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
        case .list(let l): return "[" + l.map(json).joined(separator: ", ") + "]"
        case .dict(let d, _): return "{" + d.keys.sorted().map { json(.string($0)) + ": " + json(d[$0]!) }.joined(separator: ", ") + "}"
        }
    }
}
