import Foundation

/// A value while rendering: `TemplateValue`'s cases plus jinja's undefined, namespaces, the loop
/// object and callables.
enum Value {
    case undefined(Undefined)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([Value])
    /// Python's tuple: `(a, b)`, `a, b`, the pairs of `items()`; a list that prints with parentheses.
    case tuple([Value])
    case dict(Dict)
    case namespace(Namespace)
    case loop(LoopInfo)
    case callable(Callable)

    static let empty = Value.string("")

    static func undefined(_ name: String) -> Value { .undefined(Undefined(name: name)) }

    /// Python's truth value (jinja's undefined is false).
    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let l), .tuple(let l): return !l.isEmpty
        case .dict(let d): return !d.isEmpty
        case .namespace, .loop, .callable: return true
        }
    }

    var isNone: Bool { if case .none = self { return true }; return false }

    var isUndefined: Bool { if case .undefined = self { return true }; return false }

    /// A number as a Double (bool counts, as in Python).
    var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    /// An integer (bool counts, as in Python).
    var integer: Int? {
        switch self {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    /// `str` for a name or a key in a message: short, whatever the value.
    var name: String { string ?? repr(limit: 200) ?? "<\(typeName)>" }

    /// How deep containers nest in the value (0 for a scalar), up to `cap + 1`; `visits` counts the
    /// elements looked at and `namespaces` the namespaces met.
    func nesting(cap: Int, visits: inout Int, namespaces: inout Int) -> Int {
        func deepest(_ items: [Value]) -> Int {
            var d = 0
            for item in items {
                visits += 1
                d = max(d, item.nesting(cap: cap - 1, visits: &visits, namespaces: &namespaces))
                if d >= cap { break }
            }
            return d
        }
        guard cap >= 0 else { return 1 }
        switch self {
        case .list(let l), .tuple(let l): return 1 + deepest(l)
        case .dict(let d): return 1 + deepest(d.values)
        case .namespace(let ns):
            namespaces += 1
            return 1 + deepest(ns.attributes.values)
        case .loop(let info): return 1 + deepest(info.items)
        case .callable(.method(let box, _)):
            return box.value.nesting(cap: cap, visits: &visits, namespaces: &namespaces)
        default: return 0
        }
    }

    var dictValue: Dict? { if case .dict(let d) = self { return d }; return nil }

    /// A list's or a tuple's elements.
    var elements: [Value]? {
        switch self {
        case .list(let l), .tuple(let l): return l
        default: return nil
        }
    }

    var string: String? { if case .string(let s) = self { return s }; return nil }

    /// Python's type name, for messages.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .loop: return "LoopContext"
        case .callable: return "function"
        }
    }

    var toTemplateValue: TemplateValue {
        switch self {
        case .undefined, .none, .namespace, .loop, .callable: return .none
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        case .list(let l), .tuple(let l): return .list(l.map(\.toTemplateValue))
        case .dict(let d): return .dict(d.storage.mapValues(\.toTemplateValue), keys: d.keys)
        }
    }
}

/// jinja's `Undefined`: what a missing variable, key or attribute gives. It prints as nothing and
/// is false; using it further (an attribute of it, arithmetic, calling it) is an error.
struct Undefined {
    var name: String
    /// What was asked for the name: nil for a variable, else e.g. "dict object".
    var owner: String? = nil
    /// Why there is no value when jinja says so (`first` of an empty list…).
    var hint: String? = nil

    var message: String {
        if let hint { return hint }
        guard let owner else { return "'\(name)' is undefined" }
        return "'\(owner)' has no attribute \(name)"
    }

    func error() -> TemplateError { TemplateError(message) }
}

/// A dictionary in insertion order, as Python's.
struct Dict {
    private(set) var keys: [String] = []
    private(set) var storage: [String: Value] = [:]

    init() {}

    init(_ pairs: [(String, Value)]) { for (k, v) in pairs { self[k] = v } }

    var isEmpty: Bool { keys.isEmpty }
    var count: Int { keys.count }

    subscript(key: String) -> Value? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    var pairs: [(String, Value)] { keys.compactMap { k in storage[k].map { (k, $0) } } }
    var values: [Value] { keys.compactMap { storage[$0] } }
}

/// `namespace(…)`: the one mutable object a template has, shared by reference.
final class Namespace {
    var attributes: Dict
    init(_ attributes: Dict) { self.attributes = attributes }
}

/// `loop` inside a for loop.
struct LoopInfo {
    let items: [Value]
    let index0: Int
    let depth0: Int

    func attribute(_ name: String) -> Value? {
        let n = items.count
        switch name {
        case "index": return .int(index0 + 1)
        case "index0": return .int(index0)
        case "revindex": return .int(n - index0)
        case "revindex0": return .int(n - index0 - 1)
        case "first": return .bool(index0 == 0)
        case "last": return .bool(index0 == n - 1)
        case "length": return .int(n)
        case "depth": return .int(depth0 + 1)
        case "depth0": return .int(depth0)
        case "previtem":
            let none = Value.undefined(Undefined(name: "previtem", hint: "there is no previous item"))
            return index0 > 0 ? items[index0 - 1] : none
        case "nextitem":
            let none = Value.undefined(Undefined(name: "nextitem", hint: "there is no next item"))
            return index0 + 1 < n ? items[index0 + 1] : none
        case "cycle": return .callable(.loopCycle(index0))
        default: return nil
        }
    }
}

/// Something a template can call.
enum Callable {
    case macro(Macro)
    case builtin(String)
    /// A method of a value: `'a b'.split`, `messages[0].get`.
    case method(Box, String)
    case loopCycle(Int)
}

/// Holds a method's receiver (an enum cannot hold itself directly).
final class Box {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// A `{% macro %}`: its parameters with their defaults and its body.
final class Macro {
    let name: String
    let parameters: [(String, Expr?)]
    let body: [Node]
    let line: Int

    init(name: String, parameters: [(String, Expr?)], body: [Node], line: Int) {
        (self.name, self.parameters, self.body, self.line) = (name, parameters, body, line)
    }
}
