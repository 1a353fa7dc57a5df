// Filters of lists and dicts: length, first, join, select and map, sorting, batching.

enum Collections {
    static func apply(_ name: String, _ v: Value, _ args: Args, _ r: Renderer) throws -> Value {
        switch name {
        case "length", "count": return .int(try length(v))
        case "list": return .list(try items(v, r))
        case "first":
            let hint = "No first item, sequence was empty."
            return try items(v, r).first ?? .undefined(Undefined(name: "first", hint: hint))
        case "last":
            if case .undefined = v { return v }
            let hint = "No last item, sequence was empty."
            return try items(v, r).last ?? .undefined(Undefined(name: "last", hint: hint))
        case "reverse":
            if case .string(let s) = v { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            return .list(try items(v, r).reversed())
        case "join": return try join(v, args, r)
        case "items": return try pairs(v)
        case "dictsort": return try dictsort(v, args)
        case "select", "reject": return .list(try select(v, args, r, keep: name == "select", attribute: false))
        case "selectattr", "rejectattr":
            return .list(try select(v, args, r, keep: name == "selectattr", attribute: true))
        case "map": return .list(try map(v, args, r))
        case "attr": return try Access.attribute(v, args.get(0, "name")?.name ?? "")
        case "unique": return .list(try unique(v, args, r))
        case "sort": return .list(try sort(v, args, r))
        case "sum": return try sum(v, args, r)
        case "min", "max": return try extreme(v, args, r, max: name == "max")
        case "batch": return try batch(v, args, r)
        case "slice": return try slice(v, args, r)
        default: throw TemplateError("no filter named '\(name)'")
        }
    }

    static func length(_ v: Value) throws -> Int {
        switch v {
        case .string(let s): return s.unicodeScalars.count
        case .list(let l), .tuple(let l): return l.count
        case .dict(let d): return d.count
        case .undefined: return 0
        case .loop(let info): return info.items.count
        default: throw TemplateError("object of type '\(v.typeName)' has no len()")
        }
    }

    /// The elements a filter walks through, counted against the step budget.
    static func items(_ v: Value, _ r: Renderer) throws -> [Value] {
        let l = try r.iterate(v)
        try r.budget.step(l.count)
        return l
    }

    /// An item's attribute as `selectattr`/`map`/`sort` read it: dotted parts, each a key or an index.
    static func attribute(_ item: Value, _ path: Value) throws -> Value {
        if let i = path.integer, path.isIntLike { return try Access.item(item, .int(i)) }
        var v = item
        for part in path.name.split(separator: ".", omittingEmptySubsequences: false) {
            v = try Access.item(v, Int(part).map(Value.int) ?? .string(String(part)))
        }
        return v
    }

    private static func join(_ v: Value, _ args: Args, _ r: Renderer) throws -> Value {
        let separator = try args.get(0, "d")?.text(r.budget) ?? ""
        var list = try items(v, r)
        if let path = args.get(1, "attribute"), !(path == .none) { list = try list.map { try attribute($0, path) } }
        return .string(try r.budget.joined(try list.map { try $0.text(r.budget) }, separator: separator))
    }

    private static func pairs(_ v: Value) throws -> Value {
        switch v {
        case .dict(let d): return .list(d.pairs.map { .tuple([.string($0.0), $0.1]) })
        case .undefined: return .list([])
        default: throw TemplateError("Can only get item pairs from a mapping.")
        }
    }

    /// A sort key: lowercased strings unless `caseSensitive`.
    private static func key(_ v: Value, _ caseSensitive: Bool) -> Value {
        if !caseSensitive, case .string(let s) = v { return .string(s.lowercased()) }
        return v
    }

    /// A stable sort with Python's ordering (mixed types are an error, as in Python).
    private static func sorted(_ l: [Value], by key: (Value) throws -> Value, reverse: Bool) throws -> [Value] {
        let keyed = try l.enumerated().map { ($0.offset, try key($0.element), $0.element) }
        var failure: TemplateError?
        let out = keyed.sorted { a, b in
            do {
                let c = try Operators.order(a.1, b.1)
                return c == 0 ? a.0 < b.0 : (reverse ? c > 0 : c < 0)
            } catch let e as TemplateError {
                failure = failure ?? e
                return a.0 < b.0
            } catch {
                return a.0 < b.0
            }
        }
        if let failure { throw failure }
        return out.map(\.2)
    }

    private static func dictsort(_ v: Value, _ args: Args) throws -> Value {
        guard case .dict(let d) = v else { throw TemplateError("You can only sort by either 'key' or 'value'") }
        let caseSensitive = args.get(0, "case_sensitive")?.truthy ?? false
        let by = args.get(1, "by")?.name ?? "key"
        guard by == "key" || by == "value" else { throw TemplateError("You can only sort by either 'key' or 'value'") }
        let pairs = d.pairs.map { Value.tuple([.string($0.0), $0.1]) }
        return .list(
            try sorted(
                pairs,
                by: { pair in
                    guard case .tuple(let kv) = pair else { return pair }
                    return key(kv[by == "key" ? 0 : 1], caseSensitive)
                }, reverse: args.get(2, "reverse")?.truthy ?? false))
    }

    private static func sort(_ v: Value, _ args: Args, _ r: Renderer) throws -> [Value] {
        let caseSensitive = args.get(1, "case_sensitive")?.truthy ?? false
        let path = args.get(2, "attribute").flatMap { $0 == .none ? nil : $0 }
        return try sorted(
            try items(v, r),
            by: { item in
                key(try path.map { try attribute(item, $0) } ?? item, caseSensitive)
            }, reverse: args.get(0, "reverse")?.truthy ?? false)
    }

    private static func unique(_ v: Value, _ args: Args, _ r: Renderer) throws -> [Value] {
        let caseSensitive = args.get(0, "case_sensitive")?.truthy ?? false
        let path = args.get(1, "attribute").flatMap { $0 == .none ? nil : $0 }
        var seen: [Value] = [], out: [Value] = []
        for item in try items(v, r) {
            let k = key(try path.map { try attribute(item, $0) } ?? item, caseSensitive)
            try r.budget.step(seen.count / 64)
            if !seen.contains(where: { $0 == k }) {
                seen.append(k)
                out.append(item)
            }
        }
        return out
    }

    /// `select(test, args…)`, `selectattr(attribute, test, args…)` and their `reject` twins.
    private static func select(
        _ v: Value, _ args: Args, _ r: Renderer, keep: Bool, attribute byAttribute: Bool
    ) throws
        -> [Value]
    {
        var rest = args.positional
        var path: Value?
        if byAttribute {
            guard !rest.isEmpty else { throw TemplateError("Missing parameter for attribute name") }
            path = rest.removeFirst()
        }
        let test = rest.first.map(\.name)
        let testArgs = Args(Array(rest.dropFirst()), args.keywords)
        if let test, !Tests.names.contains(test) { throw TemplateError("No test named '\(test)'.") }
        return try items(v, r).filter { item in
            let subject = try path.map { try attribute(item, $0) } ?? item
            let passes = try test.map { try Tests.apply($0, subject, testArgs, r) } ?? subject.truthy
            return passes == keep
        }
    }

    /// `map(attribute='x', default=…)` or `map('filter', args…)`.
    private static func map(_ v: Value, _ args: Args, _ r: Renderer) throws -> [Value] {
        let list = try items(v, r)
        if let path = args.keywords.first(where: { $0.0 == "attribute" })?.1 {
            let fallback = args.keywords.first { $0.0 == "default" }?.1
            return try list.map { item in
                let x = try attribute(item, path)
                if x.isUndefined, let fallback { return fallback }
                return x
            }
        }
        guard let name = args.positional.first?.name else { throw TemplateError("map requires a filter argument") }
        guard Filters.names.contains(name) else { throw TemplateError("No filter named '\(name)'.") }
        let rest = Args(Array(args.positional.dropFirst()), args.keywords)
        return try list.map { try Filters.apply(name, $0, rest, r) }
    }

    private static func sum(_ v: Value, _ args: Args, _ r: Renderer) throws -> Value {
        var total = args.get(1, "start") ?? .int(0)
        let path = args.get(0, "attribute").flatMap { $0 == .none ? nil : $0 }
        for item in try items(v, r) {
            total = try Operators.binary(.add, total, try path.map { try attribute(item, $0) } ?? item, r.budget)
        }
        return total
    }

    private static func extreme(_ v: Value, _ args: Args, _ r: Renderer, max: Bool) throws -> Value {
        let caseSensitive = args.get(0, "case_sensitive")?.truthy ?? false
        let path = args.get(1, "attribute").flatMap { $0 == .none ? nil : $0 }
        let list = try sorted(
            try items(v, r),
            by: { item in
                key(try path.map { try attribute(item, $0) } ?? item, caseSensitive)
            }, reverse: max)
        let hint = "No aggregated item, sequence was empty."
        return list.first ?? .undefined(Undefined(name: max ? "max" : "min", hint: hint))
    }

    private static func batch(_ v: Value, _ args: Args, _ r: Renderer) throws -> Value {
        guard let size = args.get(0, "linecount")?.integer, size > 0 else {
            throw TemplateError("batch needs a positive size")
        }
        let fill = args.get(1, "fill_with").flatMap { $0 == .none ? nil : $0 }
        let list = try items(v, r)
        var out: [Value] = []
        var start = 0
        while start < list.count {
            let n = min(size, list.count - start)
            var chunk = Array(list[start..<start + n])
            if let fill, n < size {
                try r.budget.listSize(size)
                chunk += Array(repeating: fill, count: size - n)
            }
            out.append(.list(chunk))
            start += n
        }
        return .list(out)
    }

    private static func slice(_ v: Value, _ args: Args, _ r: Renderer) throws -> Value {
        guard let slices = args.get(0, "slices")?.integer, slices > 0 else {
            throw TemplateError("slice needs a positive count")
        }
        let fill = args.get(1, "fill_with").flatMap { $0 == .none ? nil : $0 }
        let list = try items(v, r)
        try r.budget.listSize(slices)
        let per = list.count / slices, extra = list.count % slices
        var out: [Value] = [], offset = 0
        for i in 0..<slices {
            let start = offset + i * per
            if i < extra { offset += 1 }
            let end = offset + (i + 1) * per
            var chunk = Array(list[min(start, list.count)..<min(max(end, start), list.count)])
            if let fill, i >= extra { chunk.append(fill) }
            out.append(.list(chunk))
        }
        return .list(out)
    }
}
