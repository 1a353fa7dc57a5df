// Methods of strings, dicts and lists that templates call: `s.strip()`, `d.get(k)`, `d.items()`.
// The ones that change a value are refused, as transformers' immutable sandbox refuses them.

enum Methods {
    static let stringMethods: Set<String> = [
        "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "upper", "lower",
        "title", "capitalize", "swapcase", "casefold", "replace", "find", "rfind", "index", "rindex", "count",
        "join", "format", "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower", "isnumeric",
        "isdecimal", "istitle", "removeprefix", "removesuffix", "zfill", "center", "ljust", "rjust",
    ]
    static let dictMethods: Set<String> = [
        "items", "keys", "values", "get", "copy", "update", "pop", "popitem", "setdefault", "clear",
    ]
    static let listMethods: Set<String> = [
        "count", "index", "copy", "append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear",
    ]
    private static let mutating: Set<String> = [
        "update", "pop", "popitem", "setdefault", "clear", "append", "extend", "insert", "remove", "reverse", "sort",
    ]

    static func call(_ base: Value, _ name: String, _ args: Args, _ budget: Budget) throws -> Value {
        if mutating.contains(name) {
            throw TemplateError("access to attribute '\(name)' of '\(base.typeName)' object is unsafe.")
        }
        switch base {
        case .string(let s): return try string(s, name, args, budget)
        case .dict(let d): return try dict(d, name, args)
        case .list(let l), .tuple(let l): return try list(l, name, args)
        default: throw TemplateError("'\(base.typeName)' object has no attribute '\(name)'")
        }
    }

    private static func text(_ args: Args, _ i: Int, _ name: String) throws -> String? {
        guard let v = args.get(i, name), !(v == .none) else { return nil }
        guard case .string(let s) = v else {
            if case .undefined(let u) = v { throw u.error() }
            throw TemplateError("expected a string argument, got '\(v.typeName)'")
        }
        return s
    }

    private static func int(_ args: Args, _ i: Int, _ name: String, _ otherwise: Int) throws -> Int {
        guard let v = args.get(i, name) else { return otherwise }
        guard let n = v.integer else {
            throw TemplateError("'\(v.typeName)' object cannot be interpreted as an integer")
        }
        return n
    }

    private static func strings(_ l: [String]) -> Value { .list(l.map { .string($0) }) }

    static func string(_ s: String, _ name: String, _ args: Args, _ budget: Budget) throws -> Value {
        switch name {
        case "strip", "lstrip", "rstrip":
            let chars = try text(args, 0, "chars")
            return .string(Python.strip(s, leading: name != "rstrip", trailing: name != "lstrip", chars: chars))
        case "split", "rsplit":
            let sep = try text(args, 0, "sep"), n = try int(args, 1, "maxsplit", -1)
            return strings(name == "split" ? try Text.split(s, sep, maxSplit: n) : try Text.rsplit(s, sep, maxSplit: n))
        case "splitlines": return strings(Text.splitLines(s))
        case "startswith", "endswith": return .bool(try affix(s, name == "startswith", args))
        case "upper": return .string(s.uppercased())
        case "lower", "casefold": return .string(s.lowercased())
        case "title": return .string(Text.pythonTitle(s))
        case "capitalize": return .string(Text.capitalize(s))
        case "swapcase":
            return .string(s.map { $0.isUppercase ? $0.lowercased() : $0.uppercased() }.joined())
        case "replace":
            guard let old = try text(args, 0, "old"), let new = try text(args, 1, "new") else {
                throw TemplateError("replace() takes at least 2 arguments")
            }
            return .string(try Text.replace(s, old, new, count: try int(args, 2, "count", -1), budget: budget))
        case "find", "index", "rfind", "rindex": return try find(s, name, args)
        case "count":
            guard let sub = try text(args, 0, "sub") else { throw TemplateError("count() takes exactly one argument") }
            if sub.isEmpty { return .int(s.unicodeScalars.count + 1) }
            return .int(Text.occurrences(Array(sub.utf8), in: Array(s.utf8)).count)
        case "join": return try join(s, args, budget)
        case "format": return .string(try Format.braces(s, args, budget))
        case "removeprefix", "removesuffix":
            let affix = try text(args, 0, "prefix") ?? ""
            if name == "removeprefix", s.utf8.starts(with: affix.utf8) {
                return .string(Text.string(Array(s.utf8)[affix.utf8.count...]))
            }
            if name == "removesuffix", !affix.isEmpty, s.utf8.reversed().starts(with: affix.utf8.reversed()) {
                return .string(Text.string(Array(s.utf8).dropLast(affix.utf8.count)))
            }
            return .string(s)
        case "zfill", "center", "ljust", "rjust": return .string(try pad(s, name, args, budget))
        default: return .bool(try predicate(s, name))
        }
    }

    private static func predicate(_ s: String, _ name: String) throws -> Bool {
        let u = Array(s.unicodeScalars)
        let cased = u.filter(\.properties.isCased)
        switch name {
        case "isdigit", "isdecimal", "isnumeric": return !u.isEmpty && u.allSatisfy { $0.properties.numericType != nil }
        case "isalpha": return !u.isEmpty && u.allSatisfy(\.properties.isAlphabetic)
        case "isalnum":
            return !u.isEmpty && u.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil }
        case "isspace": return !u.isEmpty && u.allSatisfy(Python.isSpace)
        case "isupper": return !cased.isEmpty && cased.allSatisfy(\.properties.isUppercase)
        case "islower": return !cased.isEmpty && cased.allSatisfy(\.properties.isLowercase)
        case "istitle": return !cased.isEmpty && Text.pythonTitle(s) == s
        default: throw TemplateError("'str' object has no attribute '\(name)'")
        }
    }

    private static func affix(_ s: String, _ prefix: Bool, _ args: Args) throws -> Bool {
        guard let v = args.get(0, prefix ? "prefix" : "suffix") else {
            throw TemplateError("\(prefix ? "startswith" : "endswith")() takes at least 1 argument (0 given)")
        }
        let candidates: [Value]
        if case .tuple(let l) = v { candidates = l } else { candidates = [v] }
        for c in candidates {
            guard case .string(let a) = c else {
                throw TemplateError("\(prefix ? "startswith" : "endswith") first arg must be str or a tuple of str")
            }
            if prefix ? s.utf8.starts(with: a.utf8) : s.utf8.reversed().starts(with: a.utf8.reversed()) { return true }
        }
        return false
    }

    private static func find(_ s: String, _ name: String, _ args: Args) throws -> Value {
        guard let sub = try text(args, 0, "sub") else { throw TemplateError("\(name)() takes at least 1 argument") }
        let bytes = Array(s.utf8)
        let found = Text.occurrences(Array(sub.utf8), in: bytes)
        let last = sub.isEmpty ? bytes.count : found.last?.lowerBound
        let at = name.hasPrefix("r") ? last : Text.find(Array(sub.utf8), in: bytes)
        guard let at else {
            if name.hasSuffix("index") { throw TemplateError("substring not found") }
            return .int(-1)
        }
        return .int(Text.string(bytes[..<at]).unicodeScalars.count)
    }

    private static func join(_ s: String, _ args: Args, _ budget: Budget) throws -> Value {
        guard let v = args.get(0, "iterable") else {
            throw TemplateError("join() takes exactly one argument (0 given)")
        }
        var parts: [String] = []
        let items: [Value]
        switch v {
        case .list(let l), .tuple(let l): items = l
        case .dict(let d): items = d.keys.map { .string($0) }
        case .string(let t): items = t.unicodeScalars.map { .string(String($0)) }
        default: throw TemplateError("can only join an iterable")
        }
        for (i, item) in items.enumerated() {
            guard case .string(let p) = item else {
                throw TemplateError("sequence item \(i): expected str instance, \(item.typeName) found")
            }
            parts.append(p)
        }
        return .string(try budget.joined(parts, separator: s))
    }

    private static func pad(_ s: String, _ name: String, _ args: Args, _ budget: Budget) throws -> String {
        let width = try int(args, 0, "width", 0), n = s.unicodeScalars.count
        guard width > n else { return s }
        try budget.checkSize(width - n)
        try budget.built(s.utf8.count + (width - n) * 4)
        let fill = try text(args, 1, "fillchar") ?? " "
        let extra = width - n
        switch name {
        case "zfill":
            let sign = s.hasPrefix("-") || s.hasPrefix("+")
            let digits = sign ? String(s.dropFirst()) : s
            return (sign ? String(s.prefix(1)) : "") + String(repeating: "0", count: extra) + digits
        case "ljust": return s + String(repeating: fill, count: extra)
        case "rjust": return String(repeating: fill, count: extra) + s
        default:
            let left = extra / 2 + (extra & width & 1)
            return String(repeating: fill, count: left) + s + String(repeating: fill, count: extra - left)
        }
    }

    static func dict(_ d: Dict, _ name: String, _ args: Args) throws -> Value {
        switch name {
        case "items": return .list(d.pairs.map { .tuple([.string($0.0), $0.1]) })
        case "keys": return .list(d.keys.map { .string($0) })
        case "values": return .list(d.values)
        case "copy": return .dict(d)
        case "get":
            guard let key = args.get(0, "key") else { throw TemplateError("get expected at least 1 argument, got 0") }
            return Access.dictKey(key).flatMap { d[$0] } ?? args.get(1, "default") ?? .none
        default: throw TemplateError("'dict' object has no attribute '\(name)'")
        }
    }

    static func list(_ l: [Value], _ name: String, _ args: Args) throws -> Value {
        switch name {
        case "count": return .int(l.filter { $0 == (args.get(0, "value") ?? .none) }.count)
        case "index":
            guard let v = args.get(0, "value"), let i = l.firstIndex(where: { $0 == v }) else {
                throw TemplateError("value is not in list")
            }
            return .int(i)
        case "copy": return .list(l)
        default: throw TemplateError("'list' object has no attribute '\(name)'")
        }
    }
}
