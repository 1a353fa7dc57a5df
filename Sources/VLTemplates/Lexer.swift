/// A piece of a template: text, a tag's delimiters, or one of the words and symbols inside a tag.
struct Token {
    enum Kind: Equatable {
        case text(String)
        case blockBegin, blockEnd, variableBegin, variableEnd
        case name(String), string(String), integer(Int), float(Double), op(String)
        case end
    }

    let kind: Kind
    let line: Int
}

/// Splits a template as jinja2's lexer does with `trim_blocks` and `lstrip_blocks` (transformers'
/// settings): `{%- -%}` strip whitespace, a block tag eats the newline after it and the
/// indentation before it on its line, `{%+` and `+%}` keep them, and the source's last newline goes.
struct Lexer {
    static let radixes: [Unicode.Scalar: Int] = ["x": 16, "X": 16, "o": 8, "O": 8, "b": 2, "B": 2]
    let s: [Unicode.Scalar]
    var i = 0
    var line = 1
    private var tokens: [Token] = []
    /// Whether the text just lexed ended a line (so lstrip_blocks applies at the next tag).
    private var lineStarting = true

    static func tokenize(_ source: String) throws -> [Token] {
        var lexer = Lexer(normalized(source))
        try lexer.run()
        return lexer.tokens
    }

    private init(_ scalars: [Unicode.Scalar]) { s = scalars }

    /// Every line break Python's `splitlines` knows becomes "\n", and one final line break goes
    /// (jinja: `keep_trailing_newline=False`).
    static func normalized(_ source: String) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(source.unicodeScalars.count)
        var previousCR = false
        for u in source.unicodeScalars {
            if u == "\n" && previousCR { previousCR = false; continue }
            previousCR = u == "\r"
            out.append(isLineBreak(u) ? "\n" : u)
        }
        if out.last == "\n" { out.removeLast() }
        return out
    }

    static func isLineBreak(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x0A...0x0D, 0x1C...0x1E, 0x85, 0x2028, 0x2029: return true
        default: return false
        }
    }

    func at(_ k: Int) -> Unicode.Scalar? { k < s.count ? s[k] : nil }

    private mutating func emit(_ kind: Token.Kind) { tokens.append(Token(kind: kind, line: line)) }

    private mutating func emitText(_ text: ArraySlice<Unicode.Scalar>) {
        if !text.isEmpty { emit(.text(String(String.UnicodeScalarView(text)))) }
        line += text.lazy.filter { $0 == "\n" }.count
    }

    private mutating func run() throws {
        while let (start, kind) = nextTag(from: i) {
            let sign = at(start + 2).flatMap { $0 == "-" || $0 == "+" ? $0 : nil }
            let text = stripped(s[i..<start], sign: sign, isBlock: kind != "{")
            let skipped = start - i - text.count
            emitText(text)
            line += s[(start - skipped)..<start].lazy.filter { $0 == "\n" }.count
            i = start + 2 + (sign == nil ? 0 : 1)
            switch kind {
            case "#": try comment()
            case "%": try (rawBlock() ? () : tag(block: true))
            default: try tag(block: false)
            }
        }
        emitText(s[i...])
        emit(.end)
    }

    /// Where the next `{{`, `{%` or `{#` starts.
    private func nextTag(from k: Int) -> (Int, Unicode.Scalar)? {
        var k = k
        while k + 1 < s.count {
            if s[k] == "{", s[k + 1] == "{" || s[k + 1] == "%" || s[k + 1] == "#" { return (k, s[k + 1]) }
            k += 1
        }
        return nil
    }

    /// The text before a tag after `-` (all whitespace before it goes) or lstrip_blocks (a block or
    /// comment tag alone on its line loses its indentation).
    private func stripped(
        _ text: ArraySlice<Unicode.Scalar>, sign: Unicode.Scalar?,
        isBlock: Bool
    ) -> ArraySlice<Unicode.Scalar> {
        if sign == "-" {
            var t = text
            while let l = t.last, Python.isSpace(l) { t.removeLast() }
            return t
        }
        guard sign != "+", isBlock else { return text }
        let lineStart = (text.lastIndex(of: "\n").map { $0 + 1 }) ?? text.startIndex
        guard lineStart > text.startIndex || lineStarting, lineStart < text.endIndex,
            text[lineStart...].allSatisfy(Python.isSpace)
        else { return text }
        return text[..<lineStart]
    }

    private mutating func comment() throws {
        var k = i
        while k + 1 < s.count, !(s[k] == "#" && s[k + 1] == "}") { k += 1 }
        guard k + 1 < s.count else { throw TemplateError.syntax("missing end of comment tag", line: line) }
        line += s[i..<k].lazy.filter { $0 == "\n" }.count
        let sign = k > i ? s[k - 1] : nil
        i = k + 2
        afterTagEnd(sign: sign == "-" || sign == "+" ? sign : nil)
    }

    /// After `%}` or `#}`: `-` strips all whitespace, a plain end strips one newline (trim_blocks).
    private mutating func afterTagEnd(sign: Unicode.Scalar?, trim: Bool = true) {
        let start = i
        if sign == "-" {
            while let c = at(i), Python.isSpace(c) { i += 1 }
        } else if sign == nil, trim, at(i) == "\n" {
            i += 1
        }
        let eaten = s[start..<i]
        line += eaten.lazy.filter { $0 == "\n" }.count
        lineStarting = eaten.last == "\n"
    }

    /// `{% raw %}…{% endraw %}`: the text between is not lexed. True when this block is one.
    private mutating func rawBlock() throws -> Bool {
        var k = i
        while let c = at(k), Python.isSpace(c) { k += 1 }
        guard k + 3 <= s.count, String(String.UnicodeScalarView(s[k..<k + 3])) == "raw" else { return false }
        k += 3
        while let c = at(k), Python.isSpace(c) { k += 1 }
        let dash = at(k) == "-"
        guard at(k + (dash ? 1 : 0)) == "%", at(k + (dash ? 2 : 1)) == "}" else { return false }
        i = k + (dash ? 3 : 2)
        if dash { while let c = at(i), Python.isSpace(c) { i += 1 } }
        try rawBody()
        return true
    }

    private mutating func rawBody() throws {
        var search = i
        while let (start, kind) = nextTag(from: search) {
            search = start + 1
            guard kind == "%", let end = endRaw(at: start) else { continue }
            let sign = at(start + 2).flatMap { $0 == "-" || $0 == "+" ? $0 : nil }
            let text = stripped(s[i..<start], sign: sign, isBlock: true)
            emitText(text)
            line += s[(i + text.count)..<start].lazy.filter { $0 == "\n" }.count
            i = end.next
            afterTagEnd(sign: end.sign)
            return
        }
        throw TemplateError.syntax("missing end of raw directive", line: line)
    }

    /// Where `{% endraw %}` at `start` ends, and the sign before its `%}`.
    private func endRaw(at start: Int) -> (next: Int, sign: Unicode.Scalar?)? {
        var k = start + 2
        if at(k) == "-" || at(k) == "+" { k += 1 }
        while let c = at(k), Python.isSpace(c) { k += 1 }
        guard k + 6 <= s.count, String(String.UnicodeScalarView(s[k..<k + 6])) == "endraw" else { return nil }
        k += 6
        while let c = at(k), Python.isSpace(c) { k += 1 }
        var sign: Unicode.Scalar?
        if at(k) == "-" || at(k) == "+" { sign = at(k); k += 1 }
        guard at(k) == "%", at(k + 1) == "}" else { return nil }
        return (k + 2, sign)
    }

    /// The inside of `{% %}` or `{{ }}` up to its end, which counts only outside brackets.
    private mutating func tag(block: Bool) throws {
        emit(block ? .blockBegin : .variableBegin)
        let opened = line
        var brackets: [Unicode.Scalar] = []
        while true {
            while let c = at(i), Python.isSpace(c) {
                if c == "\n" { line += 1 }
                i += 1
            }
            guard let c = at(i) else {
                let what = block ? "end of statement block" : "end of print statement"
                throw TemplateError.syntax(
                    "unexpected end of template, expected \(what) (opened on line \(opened))",
                    line: line)
            }
            if brackets.isEmpty, try tagEnd(block: block) { return }
            if c == "'" || c == "\"" {
                emit(.string(try stringLiteral(quote: c)))
            } else if c.properties.isAlphabetic || c == "_" {
                emit(.name(identifier()))
            } else if ("0"..."9").contains(c) {
                emit(try number())
            } else {
                emit(.op(try op(&brackets)))
            }
        }
    }

    /// Consumes the tag's end delimiter when it is here.
    private mutating func tagEnd(block: Bool) throws -> Bool {
        let close: Unicode.Scalar = block ? "%" : "}"
        var k = i
        var sign: Unicode.Scalar?
        if at(k) == "-" || (block && at(k) == "+") { sign = at(k); k += 1 }
        guard at(k) == close, at(k + 1) == "}" else { return false }
        i = k + 2
        emit(block ? .blockEnd : .variableEnd)
        afterTagEnd(sign: sign, trim: block)
        return true
    }

    private mutating func identifier() -> String {
        let start = i
        while let c = at(i), c.properties.isAlphabetic || c == "_" || c.properties.numericType != nil { i += 1 }
        return String(String.UnicodeScalarView(s[start..<i]))
    }

    private mutating func op(_ brackets: inout [Unicode.Scalar]) throws -> String {
        let c = s[i]
        if let next = at(i + 1) {
            switch (c, next) {
            case ("/", "/"), ("*", "*"), ("=", "="), ("!", "="), (">", "="), ("<", "="):
                i += 2
                return String(c) + String(next)
            default: break
            }
        }
        switch c {
        case "+", "-", "/", "*", "%", "~", "<", ">", "=", ".", ":", "|", ",", ";": break
        case "(": brackets.append(")")
        case "[": brackets.append("]")
        case "{": brackets.append("}")
        case ")", "]", "}":
            guard brackets.last == c else { throw TemplateError.syntax("unexpected '\(c)'", line: line) }
            brackets.removeLast()
        default: throw TemplateError.syntax("unexpected char \(Python.stringRepr(String(c)))", line: line)
        }
        i += 1
        return String(c)
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        return components(separatedBy: target).joined(separator: replacement)
    }
}
