// Python's string operations where Swift's differ: by code point and byte, not by grapheme, and
// with Python's whitespace.

enum Text {
    /// The UTF-8 offset of the first `needle` in `haystack` at or after `from` (a substring of UTF-8 is
    /// a substring of code points).
    static func find(_ needle: String, in haystack: String, from: Int = 0) -> Int? {
        find(Array(needle.utf8), in: Array(haystack.utf8), from: from)
    }

    static func find(_ n: [UInt8], in h: [UInt8], from: Int = 0) -> Int? {
        guard !n.isEmpty else { return from <= h.count ? from : nil }
        return occurrences(n, in: h, from: from, limit: 1).first?.lowerBound
    }

    /// Non-overlapping occurrences of `sep` in `s` from `from`, as byte ranges, at most `limit` of them;
    /// Knuth–Morris–Pratt, so the time is linear whatever the text.
    static func occurrences(_ sep: [UInt8], in s: [UInt8], from: Int = 0, limit: Int = Int.max) -> [Range<Int>] {
        var out: [Range<Int>] = []
        scan(sep, in: s, from: from, limit: limit) { out.append($0..<$0 + sep.count) }
        return out
    }

    /// Calls `found` with the start of each non-overlapping `sep` in `s` from `from`, at most `limit` times.
    static func scan(_ sep: [UInt8], in s: [UInt8], from: Int = 0, limit: Int = Int.max, _ found: (Int) -> Void) {
        guard !sep.isEmpty, sep.count <= s.count, limit > 0 else { return }
        var fail = [Int](repeating: 0, count: sep.count)
        sep.withUnsafeBufferPointer { p in
            fail.withUnsafeMutableBufferPointer { f in
                var k = 0
                for i in 1..<max(p.count, 1) {
                    while k > 0 && p[i] != p[k] { k = f[k - 1] }
                    if p[i] == p[k] { k += 1 }
                    f[i] = k
                }
            }
        }
        s.withUnsafeBufferPointer { h in
            sep.withUnsafeBufferPointer { p in
                fail.withUnsafeBufferPointer { f in
                    var k = 0, count = 0, i = max(from, 0)
                    let n = h.count, m = p.count
                    while i < n {
                        let c = h[i]
                        while k > 0 && c != p[k] { k = f[k - 1] }
                        if c == p[k] { k += 1 }
                        if k == m {
                            found(i + 1 - m)
                            count += 1
                            if count == limit { return }
                            k = 0
                        }
                        i += 1
                    }
                }
            }
        }
    }

    static func string(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

    /// `str.replace(old, new, count)`; an empty `old` goes between every code point.
    static func replace(_ s: String, _ old: String, _ new: String, count: Int = -1, budget: Budget) throws -> String {
        let limit = count < 0 ? Int.max : count
        if old.isEmpty {
            let scalars = Array(s.unicodeScalars)
            let n = min(limit, scalars.count + 1)
            try budget.built(s.utf8.count + n * new.utf8.count)
            var out = ""
            for (i, u) in scalars.enumerated() {
                if i < n { out += new }
                out.unicodeScalars.append(u)
            }
            return n > scalars.count ? out + new : out
        }
        let bytes = Array(s.utf8), target = Array(old.utf8), replacement = Array(new.utf8)
        try budget.built(bytes.count)  // the scan, counted before it is done
        var count = 0
        scan(target, in: bytes, limit: limit) { _ in count += 1 }
        guard count > 0 else { return s }
        let size = bytes.count + count * (replacement.count - target.count)
        try budget.built(size)
        var out = [UInt8](repeating: 0, count: size)
        out.withUnsafeMutableBufferPointer { o in
            bytes.withUnsafeBufferPointer { b in
                var last = 0, at = 0
                func copy(_ from: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) {
                    for k in range { o[at] = from[k]; at += 1 }
                }
                replacement.withUnsafeBufferPointer { r in
                    scan(target, in: bytes, limit: limit) { start in
                        copy(b, last..<start)
                        copy(r, 0..<r.count)
                        last = start + target.count
                    }
                }
                copy(b, last..<b.count)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `str.split(sep, maxsplit)`.
    static func split(_ s: String, _ sep: String?, maxSplit: Int = -1) throws -> [String] {
        let limit = maxSplit < 0 ? Int.max : maxSplit
        guard let sep else { return splitWhitespace(s, limit: limit) }
        guard !sep.isEmpty else { throw TemplateError("empty separator") }
        let bytes = Array(s.utf8)
        var out: [String] = [], last = 0
        for r in occurrences(Array(sep.utf8), in: bytes, limit: limit) {
            out.append(string(bytes[last..<r.lowerBound]))
            last = r.upperBound
        }
        out.append(string(bytes[last...]))
        return out
    }

    /// `str.rsplit(sep, maxsplit)`.
    static func rsplit(_ s: String, _ sep: String?, maxSplit: Int = -1) throws -> [String] {
        guard maxSplit >= 0 else { return try split(s, sep) }
        let reversedParts = try split(
            String(s.unicodeScalars.reversed().map(Character.init)),
            sep.map { String($0.unicodeScalars.reversed().map(Character.init)) },
            maxSplit: maxSplit)
        return reversedParts.reversed().map { String($0.unicodeScalars.reversed().map(Character.init)) }
    }

    private static func splitWhitespace(_ s: String, limit: Int) -> [String] {
        var out: [String] = []
        var current = String.UnicodeScalarView()
        var scalars = s.unicodeScalars[...]
        while let f = scalars.first, Python.isSpace(f) { scalars.removeFirst() }
        if limit == 0 { return scalars.isEmpty ? [] : [String(String.UnicodeScalarView(scalars))] }
        while let u = scalars.first {
            scalars.removeFirst()
            if Python.isSpace(u) {
                out.append(String(current))
                current = String.UnicodeScalarView()
                while let f = scalars.first, Python.isSpace(f) { scalars.removeFirst() }
                if out.count == limit {
                    if !scalars.isEmpty { out.append(String(String.UnicodeScalarView(scalars))) }
                    return out
                }
            } else {
                current.append(u)
            }
        }
        if !current.isEmpty { out.append(String(current)) }
        return out
    }

    /// `str.splitlines()`: every line break Python knows.
    static func splitLines(_ s: String) -> [String] {
        var out: [String] = []
        var current = String.UnicodeScalarView()
        var previousCR = false
        for u in s.unicodeScalars {
            if u == "\n" && previousCR { previousCR = false; continue }
            previousCR = u == "\r"
            if Lexer.isLineBreak(u) {
                out.append(String(current))
                current = String.UnicodeScalarView()
            } else {
                current.append(u)
            }
        }
        if !current.isEmpty { out.append(String(current)) }
        return out
    }

    /// Python's `str.title()`: a letter after a cased letter is lowercased, others title-cased.
    static func pythonTitle(_ s: String) -> String {
        var out = "", previousCased = false
        for u in s.unicodeScalars {
            out += previousCased ? u.properties.lowercaseMapping : u.properties.titlecaseMapping
            previousCased = u.properties.isCased
        }
        return out
    }

    /// Python's `str.capitalize()`.
    static func capitalize(_ s: String) -> String {
        guard let first = s.unicodeScalars.first else { return s }
        let rest = String(String.UnicodeScalarView(s.unicodeScalars.dropFirst()))
        return first.properties.titlecaseMapping + rest.lowercased()
    }

    /// jinja's `title` filter: each word (after whitespace, `-`, `(`, `{`, `[` or `<`) capitalized.
    static func jinjaTitle(_ s: String) -> String {
        var out = "", word = String.UnicodeScalarView()
        func flush() {
            if !word.isEmpty {
                let w = String(word)
                out +=
                    (w.unicodeScalars.first.map { String($0).uppercased() } ?? "")
                    + String(String.UnicodeScalarView(w.unicodeScalars.dropFirst())).lowercased()
            }
            word = String.UnicodeScalarView()
        }
        for u in s.unicodeScalars {
            let separator = Python.isSpace(u) || "-({[<".unicodeScalars.contains(u)
            if separator {
                flush()
                out.unicodeScalars.append(u)
            } else {
                word.append(u)
            }
        }
        flush()
        return out
    }

    /// Markup's HTML escape (jinja's `escape`).
    static func htmlEscape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
