// `a.b`, `a[b]` and `a[i:j:k]` as jinja2's `getattr` and `getitem`: a missing key, attribute or
// index gives undefined; only using undefined further fails.

enum Access {
    static func attribute(_ v: Value, _ name: String) throws -> Value {
        switch v {
        case .undefined(let u): throw u.error()
        case .dict(let d):
            if Methods.dictMethods.contains(name) { return .callable(.method(Box(v), name)) }
            return d[name] ?? missing(v, Python.stringRepr(name))
        case .string:
            if Methods.stringMethods.contains(name) { return .callable(.method(Box(v), name)) }
        case .list, .tuple:
            if Methods.listMethods.contains(name) { return .callable(.method(Box(v), name)) }
        case .namespace(let ns): return ns.attributes[name] ?? missing(v, Python.stringRepr(name))
        case .loop(let info): return info.attribute(name) ?? missing(v, Python.stringRepr(name))
        default: break
        }
        return missing(v, Python.stringRepr(name))
    }

    static func item(_ v: Value, _ key: Value) throws -> Value {
        if case .undefined(let u) = v { throw u.error() }
        if case .undefined(let u) = key { throw u.error() }
        switch (v, key) {
        case (.dict(let d), _):
            if let k = dictKey(key), let x = d[k] { return x }
        case (.list(let l), _), (.tuple(let l), _):
            if let i = key.integer { return index(i, count: l.count).map { l[$0] } ?? missing(v, key.repr) }
        case (.string(let s), _):
            if let i = key.integer {
                let scalars = Array(s.unicodeScalars)
                return index(i, count: scalars.count).map { .string(String(scalars[$0])) } ?? missing(v, key.repr)
            }
        default: break
        }
        if case .string(let name) = key { return try attribute(v, name) }
        return missing(v, key.elements == nil && key.dictValue == nil ? key.repr : "<\(key.typeName)>")
    }

    /// A dict's key for a subscript: strings, and numbers as their text (dict literals store them so).
    static func dictKey(_ key: Value) -> String? {
        switch key {
        case .string(let s): return s
        case .int, .bool, .none: return key.str
        case .double(let d): return d == d.rounded() && abs(d) < 1e18 ? String(Int(d)) : key.str
        default: return nil
        }
    }

    private static func index(_ i: Int, count: Int) -> Int? {
        let j = i < 0 ? (i >= -count ? count + i : -1) : i
        return j >= 0 && j < count ? j : nil
    }

    static func missing(_ owner: Value, _ name: String) -> Value {
        .undefined(Undefined(name: name, owner: ownerDescription(owner)))
    }

    private static func ownerDescription(_ v: Value) -> String {
        switch v {
        case .none: return "None"
        case .namespace: return "Namespace object"
        default: return "\(v.typeName) object"
        }
    }

    static func slice(_ v: Value, _ start: Value?, _ stop: Value?, _ step: Value?, _ budget: Budget) throws -> Value {
        func bound(_ x: Value?) throws -> Int? {
            guard let x, !(x == .none) else { return nil }
            guard let i = x.integer else {
                if case .undefined(let u) = x { throw u.error() }
                throw TemplateError("slice indices must be integers or None or have an __index__ method")
            }
            return i
        }
        let (a, b, c) = (try bound(start), try bound(stop), try bound(step) ?? 1)
        guard c != 0 else { throw TemplateError("slice step cannot be zero") }
        switch v {
        case .list(let l): return .list(pick(l, a, b, c))
        case .tuple(let l): return .tuple(pick(l, a, b, c))
        case .string(let s):
            let picked = pick(Array(s.unicodeScalars), a, b, c)
            return .string(String(String.UnicodeScalarView(picked)))
        case .undefined(let u): throw u.error()
        default: throw TemplateError("'\(v.typeName)' object is not subscriptable")
        }
    }

    /// Python's slice of `items`.
    static func pick<T>(_ items: [T], _ start: Int?, _ stop: Int?, _ step: Int) -> [T] {
        let n = items.count
        let (lower, upper) = step > 0 ? (0, n) : (-1, n - 1)
        func adjust(_ x: Int?, _ otherwise: Int) -> Int {
            guard var x else { return otherwise }
            if x < 0 { x = x < -n ? lower : x + n }
            return min(max(x, lower), upper)
        }
        let from = adjust(start, step > 0 ? lower : upper)
        let to = adjust(stop, step > 0 ? upper : lower)
        var out: [T] = []
        var i = from
        while step > 0 ? i < to : i > to {
            out.append(items[i])
            let (next, overflow) = i.addingReportingOverflow(step)
            if overflow { break }
            i = next
        }
        return out
    }
}
