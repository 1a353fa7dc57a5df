// Numbers and quoted strings inside tags, read as jinja2 (Python) reads them.

extension Lexer {
    mutating func number() throws -> Token.Kind {
        let start = i
        if at(i) == "0", let p = at(i + 1), let radix = Lexer.radixes[p] {
            i += 2
            let digitsStart = i
            while let c = at(i), c == "_" || Int(String(c), radix: radix) != nil { i += 1 }
            let digits = String(String.UnicodeScalarView(s[digitsStart..<i])).replacingAll("_", with: "")
            guard let v = Int(digits, radix: radix) else {
                throw TemplateError.syntax("integer out of range", line: line)
            }
            return .integer(v)
        }
        digits()
        var isFloat = false
        if at(i) == ".", let d = at(i + 1), ("0"..."9").contains(d) {
            isFloat = true
            i += 1
            digits()
        }
        if at(i) == "e" || at(i) == "E" {
            var k = i + 1
            if at(k) == "+" || at(k) == "-" { k += 1 }
            if let d = at(k), ("0"..."9").contains(d) {
                isFloat = true
                i = k
                digits()
            }
        }
        let text = String(String.UnicodeScalarView(s[start..<i])).replacingAll("_", with: "")
        if isFloat { return .float(Double(text) ?? .infinity) }
        guard let v = Int(text) else { throw TemplateError.syntax("integer \(text) out of range", line: line) }
        return .integer(v)
    }

    private mutating func digits() {
        func isDigit(_ c: Unicode.Scalar?) -> Bool { c.map { ("0"..."9").contains($0) } ?? false }
        while let c = at(i), isDigit(c) || (c == "_" && isDigit(at(i + 1))) {
            i += 1
        }
    }

    /// A quoted string, its escapes read as Python's `unicode-escape` codec does (jinja's way).
    mutating func stringLiteral(quote: Unicode.Scalar) throws -> String {
        let opened = line
        i += 1
        var out = String.UnicodeScalarView()
        while let c = at(i) {
            i += 1
            if c == quote { return String(out) }
            if c == "\n" { line += 1 }
            guard c == "\\" else { out.append(c); continue }
            guard let e = at(i) else { break }
            i += 1
            if e == "\n" { line += 1; continue }
            try escape(e, into: &out)
        }
        throw TemplateError.syntax("unexpected end of string (opened on line \(opened))", line: line)
    }

    private mutating func escape(_ e: Unicode.Scalar, into out: inout String.UnicodeScalarView) throws {
        let simple: [Unicode.Scalar: Unicode.Scalar] = [
            "n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", "\"": "\"", "a": "\u{07}", "b": "\u{08}",
            "f": "\u{0C}", "v": "\u{0B}",
        ]
        if let v = simple[e] { out.append(v); return }
        if ("0"..."7").contains(e) {
            var v = e.value - 48, n = 1
            while n < 3, let d = at(i), ("0"..."7").contains(d) { v = v * 8 + d.value - 48; i += 1; n += 1 }
            out.append(Unicode.Scalar(v) ?? "\u{FFFD}")
            return
        }
        let width = e == "x" ? 2 : e == "u" ? 4 : e == "U" ? 8 : 0
        guard width > 0 else { out.append("\\"); out.append(e); return }
        guard i + width <= s.count,
            let v = UInt32(String(String.UnicodeScalarView(s[i..<i + width])), radix: 16),
            let u = Unicode.Scalar(v)
        else {
            throw TemplateError.syntax("bad \\\(e) escape in a string", line: line)
        }
        i += width
        out.append(u)
    }
}
