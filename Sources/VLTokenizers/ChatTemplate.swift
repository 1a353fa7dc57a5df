import Foundation

/// A problem with a chat template (unsupported construct, syntax, or `raise_exception` in it).
public struct TemplateError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// A value inside a template.
public indirect enum TemplateValue: Equatable {
    case none, bool(Bool), int(Int), double(Double), string(String)
    case list([TemplateValue])
    case dict([String: TemplateValue], keys: [String])

    public static func object(_ pairs: [(String, TemplateValue)]) -> TemplateValue {
        .dict(Dictionary(pairs, uniquingKeysWith: { a, _ in a }), keys: pairs.map(\.0))
    }

    /// From JSONSerialization output (messages, extra variables).
    public init(json: Any?) {
        switch json {
        case nil, is NSNull: self = .none
        case let s as String: self = .string(s)
        case let n as NSNumber:
            if String(cString: n.objCType) == "c" { self = .bool(n.boolValue) } else if n.doubleValue == n.doubleValue.rounded(), abs(n.doubleValue) < 1e15 {
                self = .int(n.intValue)
            } else { self = .double(n.doubleValue) }
        case let a as [Any]: self = .list(a.map { TemplateValue(json: $0) })
        case let d as [String: Any]: self = .dict(d.mapValues { TemplateValue(json: $0) }, keys: d.keys.sorted())
        default: self = .none
        }
    }

    var truthy: Bool {
        switch self {
        case .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let l): return !l.isEmpty
        case .dict(let d, _): return !d.isEmpty
        }
    }

    /// The value as a template prints it.
    public var text: String {
        switch self {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return s
        case .list(let l): return "[" + l.map(\.repr).joined(separator: ", ") + "]"
        case .dict(let d, let keys): return "{" + keys.map { "'\($0)': \(d[$0]!.repr)" }.joined(separator: ", ") + "}"
        }
    }

    var repr: String { if case .string(let s) = self { return "'\(s)'" }; return text }
}

/// Renders Hugging Face chat templates: the Jinja subset those templates use, evaluated as
/// transformers does (jinja2 with trim_blocks and lstrip_blocks). Supported: `{{ }}`, `{% if/elif/
/// else %}`, `{% for … in … %}` with `loop`, `{% set %}` (also `ns.attr`), `{% generation %}`,
/// comments, whitespace control, literals, lists, `a.b`, `a['b']`, slices, `+ - * / // % ~`,
/// comparisons, `in`, `and/or/not`, `x if c else y`, `is defined/none/string`, the filters trim,
/// upper, lower, length, first, last, join, default, tojson, list, selectattr/rejectattr
/// (equalto), string methods (strip, lstrip, rstrip, upper, lower, startswith, endswith,
/// split, replace, title), `items()`/`get()` on dicts, `raise_exception`, `namespace`, `range`.
/// Anything else is a `TemplateError` naming it.
public struct ChatTemplate {
    let nodes: [Node]

    public init(_ source: String) throws {
        var parser = Parser(tokens: try Lexer.tokenize(source))
        nodes = try parser.parseBlock(until: [])
    }

    /// Renders `messages` (and `add_generation_prompt`, `bos_token`, … in `variables`).
    public func render(_ variables: [String: TemplateValue]) throws -> String {
        var scope = Scope(frames: [variables])
        var out = ""
        try Evaluator.run(nodes, &scope, &out)
        return out
    }

    /// Finds a model directory's template: `chat_template.jinja`, `chat_template.json` or the
    /// `chat_template` of `tokenizer_config.json` (nil when there is none).
    public static func source(in directory: URL) throws -> String? {
        let jinja = directory.appendingPathComponent("chat_template.jinja")
        if let data = FileManager.default.contents(atPath: jinja.path) { return String(decoding: data, as: UTF8.self) }
        for file in ["chat_template.json", "tokenizer_config.json"] {
            let url = directory.appendingPathComponent(file)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let json = try BPEFiles.readJSONObject(url)
            if let t = json["chat_template"] as? String { return t }
            if let list = json["chat_template"] as? [[String: Any]] {  // named templates: use "default"
                return (list.first { $0["name"] as? String == "default" } ?? list.first)?["template"] as? String
            }
        }
        return nil
    }
}

// MARK: - Lexing

enum Token: Equatable {
    case text(String)
    case output([Lexeme])
    case statement([Lexeme])
}

enum Lexeme: Equatable {
    case name(String), string(String), number(Double, isInt: Bool), op(String)
}

enum Lexer {
    /// Splits the source into text, `{{ }}` and `{% %}` parts, applying `-` whitespace control,
    /// trim_blocks (newline after a block tag) and lstrip_blocks (indentation before one).
    static func tokenize(_ source: String) throws -> [Token] {
        var tokens: [Token] = []
        var rest = Substring(source)
        var stripNextLeading = false, afterBlock = false
        while let (open, kind) = nextTag(rest) {
            let closer = kind == "{" ? "}}" : (kind == "%" ? "%}" : "#}")
            var inner = rest[rest.index(open, offsetBy: 2)...]
            let stripBefore = inner.first == "-"
            if stripBefore { inner = inner.dropFirst() }
            guard let close = inner.range(of: closer) else {
                throw TemplateError("chat template: a tag opened with {\(kind) is not closed")
            }
            var body = inner[..<close.lowerBound]
            let stripAfter = body.last == "-"
            if stripAfter { body = body.dropLast() }
            let isBlock = kind != "{"
            tokens.append(.text(clean(String(rest[..<open]), stripLeading: stripNextLeading, afterBlock: afterBlock,
                                      beforeBlock: isBlock, stripTrailing: stripBefore, atTemplateStart: tokens.isEmpty)))
            if kind == "{" { tokens.append(.output(try lex(String(body)))) }
            if kind == "%" { tokens.append(.statement(try lex(String(body)))) }
            stripNextLeading = stripAfter
            afterBlock = isBlock
            rest = inner[close.upperBound...]
        }
        tokens.append(.text(clean(String(rest), stripLeading: stripNextLeading, afterBlock: afterBlock, beforeBlock: false,
                                  stripTrailing: false, atTemplateStart: false)))
        return tokens.filter { $0 != .text("") }
    }

    /// The next `{{`, `{%` or `{#` and which it is.
    private static func nextTag(_ s: Substring) -> (Substring.Index, Character)? {
        var i = s.startIndex
        while i < s.endIndex {
            let next = s.index(after: i)
            if s[i] == "{", next < s.endIndex, "{%#".contains(s[next]) { return (i, s[next]) }
            i = next
        }
        return nil
    }

    private static func clean(_ s: String, stripLeading: Bool, afterBlock: Bool, beforeBlock: Bool, stripTrailing: Bool,
                              atTemplateStart: Bool) -> String {
        var t = Substring(s)
        if stripTrailing {
            while t.last?.isWhitespace == true { t = t.dropLast() }
        } else if beforeBlock {
            // lstrip_blocks (on the source, before trim_blocks): indentation from the line start to the tag goes.
            var u = t
            while let c = u.last, c == " " || c == "\t" { u = u.dropLast() }
            if u.last == "\n" || (u.isEmpty && atTemplateStart) { t = u }
        }
        if stripLeading { t = t.drop { $0.isWhitespace } } else if afterBlock, t.first == "\n" { t = t.dropFirst() }
        return String(t)
    }

    static func lex(_ s: String) throws -> [Lexeme] {
        let chars = Array(s)
        var out: [Lexeme] = []
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace { i += 1; continue }
            if c.isLetter || c == "_" {
                var j = i
                while j < chars.count && (chars[j].isLetter || chars[j].isNumber || chars[j] == "_") { j += 1 }
                out.append(.name(String(chars[i..<j])))
                i = j
            } else if c.isNumber {
                var j = i
                while j < chars.count && (chars[j].isNumber || chars[j] == ".") { j += 1 }
                let text = String(chars[i..<j])
                out.append(.number(Double(text) ?? 0, isInt: !text.contains(".")))
                i = j
            } else if c == "'" || c == "\"" {
                var j = i + 1, value = ""
                while j < chars.count && chars[j] != c {
                    if chars[j] == "\\", j + 1 < chars.count {
                        let e = chars[j + 1]
                        value.append(e == "n" ? "\n" : e == "t" ? "\t" : e == "r" ? "\r" : e)
                        j += 2
                    } else {
                        value.append(chars[j])
                        j += 1
                    }
                }
                guard j < chars.count else { throw TemplateError("chat template: unterminated string") }
                out.append(.string(value))
                i = j + 1
            } else {
                let two = i + 1 < chars.count ? String(chars[i...i + 1]) : ""
                if ["==", "!=", "<=", ">=", "//", "**"].contains(two) {
                    out.append(.op(two))
                    i += 2
                } else if "+-*/%~<>()[]{}.,:|=".contains(c) {
                    out.append(.op(String(c)))
                    i += 1
                } else {
                    throw TemplateError("chat template: unexpected character \(c)")
                }
            }
        }
        return out
    }
}
