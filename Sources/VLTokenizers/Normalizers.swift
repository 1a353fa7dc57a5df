import Foundation

/// The `normalizer` of a tokenizer.json: applied to each stretch of text between added tokens.
indirect enum Normalizer {
    case nfc, nfkc, nfd, nfkd, lowercase
    case prepend(String)
    case replace(Pattern, String)
    case strip(left: Bool, right: Bool)
    case sequence([Normalizer])

    init(json: [String: Any], file: String) throws {
        switch json["type"] as? String {
        case "NFC": self = .nfc
        case "NFKC": self = .nfkc
        case "NFD": self = .nfd
        case "NFKD": self = .nfkd
        case "Lowercase": self = .lowercase
        case "Prepend": self = .prepend(json["prepend"] as? String ?? "")
        case "Replace":
            self = .replace(try Pattern(json["pattern"], file: file), json["content"] as? String ?? "")
        case "Strip":
            self = .strip(left: json["strip_left"] as? Bool ?? true, right: json["strip_right"] as? Bool ?? true)
        case "Sequence":
            self = .sequence(
                try (json["normalizers"] as? [[String: Any]] ?? []).map { try Normalizer(json: $0, file: file) })
        case let other:
            throw TokenizerError("\(file): normalizer \(other ?? "without a type") is not supported")
        }
    }

    func apply(_ s: String) -> String {
        switch self {
        case .nfc: return s.precomposedStringWithCanonicalMapping
        case .nfkc: return s.precomposedStringWithCompatibilityMapping
        case .nfd: return s.decomposedStringWithCanonicalMapping
        case .nfkd: return s.decomposedStringWithCompatibilityMapping
        case .lowercase: return s.lowercased()
        case .prepend(let p): return s.isEmpty ? s : p + s
        case .replace(let pattern, let content): return pattern.replaceAll(in: s, with: content)
        case .strip(let left, let right):
            var t = Substring(s)
            if left { t = t.drop { $0.isWhitespace } }
            if right { while t.last?.isWhitespace == true { t = t.dropLast() } }
            return String(t)
        case .sequence(let list): return list.reduce(s) { $1.apply($0) }
        }
    }
}

/// A literal string or a regular expression (`{"String": …}` / `{"Regex": …}` in tokenizer.json).
struct Pattern {
    let regex: NSRegularExpression

    init(_ value: Any?, file: String) throws {
        guard let d = value as? [String: Any] else { throw TokenizerError("\(file): a pattern is not an object") }
        if let literal = d["String"] as? String {
            regex = try NSRegularExpression(pattern: NSRegularExpression.escapedPattern(for: literal))
        } else if let source = d["Regex"] as? String {
            do { regex = try NSRegularExpression(pattern: source) } catch {
                throw TokenizerError("\(file): the regular expression \(source) is not supported: \(error)")
            }
        } else {
            throw TokenizerError("\(file): a pattern has neither String nor Regex")
        }
    }

    init(regex: String) { self.regex = try! NSRegularExpression(pattern: regex) }

    func replaceAll(in s: String, with content: String) -> String {
        regex.stringByReplacingMatches(
            in: s, range: NSRange(s.startIndex..., in: s),
            withTemplate: NSRegularExpression.escapedTemplate(for: content))
    }

    /// Match ranges, in order.
    func matches(in s: String) -> [Range<String.Index>] {
        regex.matches(in: s, range: NSRange(s.startIndex..., in: s)).compactMap { Range($0.range, in: s) }
    }
}
