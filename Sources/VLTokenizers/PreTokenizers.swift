import Foundation

/// The `pre_tokenizer` of a tokenizer.json: splits normalised text into words for the model.
indirect enum PreTokenizer {
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case split(Pattern, SplitBehavior, invert: Bool)
    case metaspace(replacement: String, prependScheme: String, split: Bool)
    case whitespace, whitespaceSplit
    case digits(individual: Bool)
    case sequence([PreTokenizer])

    /// GPT-2's word pattern, applied by the ByteLevel pre-tokenizer.
    static let gpt2 = Pattern(regex: #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#)

    init(json: [String: Any], file: String) throws {
        switch json["type"] as? String {
        case "ByteLevel":
            self = .byteLevel(
                addPrefixSpace: json["add_prefix_space"] as? Bool ?? true, useRegex: json["use_regex"] as? Bool ?? true)
        case "Split":
            let behavior = (json["behavior"] as? String ?? "Isolated").lowercased()
            guard let b = SplitBehavior(rawValue: behavior) else {
                throw TokenizerError("\(file): split behaviour \(behavior) is not supported")
            }
            self = .split(try Pattern(json["pattern"], file: file), b, invert: json["invert"] as? Bool ?? false)
        case "Metaspace":
            let scheme =
                json["prepend_scheme"] as? String ?? ((json["add_prefix_space"] as? Bool ?? true) ? "always" : "never")
            self = .metaspace(
                replacement: json["replacement"] as? String ?? "▁", prependScheme: scheme,
                split: json["split"] as? Bool ?? true)
        case "Whitespace": self = .whitespace
        case "WhitespaceSplit": self = .whitespaceSplit
        case "Digits": self = .digits(individual: json["individual_digits"] as? Bool ?? false)
        case "Sequence":
            self = .sequence(
                try (json["pretokenizers"] as? [[String: Any]] ?? []).map { try PreTokenizer(json: $0, file: file) })
        case let other:
            throw TokenizerError("\(file): pre-tokenizer \(other ?? "without a type") is not supported")
        }
    }

    /// Whether words come out as byte-level characters.
    var isByteLevel: Bool {
        switch self {
        case .byteLevel: return true
        case .sequence(let list): return list.contains { $0.isByteLevel }
        default: return false
        }
    }

    /// `atStart`: the text begins the input (Metaspace's "first" scheme prepends only there).
    func split(_ words: [String], atStart: Bool) -> [String] {
        switch self {
        case .byteLevel(let addPrefixSpace, let useRegex):
            return words.flatMap { w -> [String] in
                let text = addPrefixSpace && !w.hasPrefix(" ") ? " " + w : w
                let pieces = useRegex ? PreTokenizer.isolate(text, PreTokenizer.gpt2.matches(in: text)) : [text]
                return pieces.map { String(ByteLevel.encode(Substring($0))) }
            }
        case .split(let pattern, let behavior, let invert):
            return words.flatMap { behavior.apply($0, pattern.matches(in: $0), invert: invert) }
        case .metaspace(let replacement, let scheme, let split):
            return words.enumerated().flatMap { i, w -> [String] in
                var text = w.replacingOccurrences(of: " ", with: replacement)
                if scheme == "always" || (scheme == "first" && atStart && i == 0), !text.hasPrefix(replacement) {
                    text = replacement + text
                }
                guard split else { return [text] }
                return SplitBehavior.mergedWithNext.apply(
                    text, Pattern(regex: NSRegularExpression.escapedPattern(for: replacement)).matches(in: text),
                    invert: false)
            }
        case .whitespace:
            return words.flatMap { w in
                PreTokenizer.isolate(w, Pattern(regex: #"\w+|[^\w\s]+"#).matches(in: w), keepGaps: false)
            }
        case .whitespaceSplit:
            return words.flatMap { $0.split(whereSeparator: { $0.isWhitespace }).map(String.init) }
        case .digits(let individual):
            return words.flatMap {
                SplitBehavior.isolated.apply(
                    $0, Pattern(regex: individual ? #"\p{N}"# : #"\p{N}+"#).matches(in: $0), invert: false)
            }
        case .sequence(let list):
            var current = words
            for p in list { current = p.split(current, atStart: atStart) }
            return current
        }
    }

    /// The matches and the text between them, in order (gaps dropped unless `keepGaps`).
    static func isolate(_ s: String, _ ranges: [Range<String.Index>], keepGaps: Bool = true) -> [String] {
        var out: [String] = []
        var cursor = s.startIndex
        for r in ranges {
            if keepGaps && cursor < r.lowerBound { out.append(String(s[cursor..<r.lowerBound])) }
            if !r.isEmpty { out.append(String(s[r])) }
            cursor = r.upperBound
        }
        if keepGaps && cursor < s.endIndex { out.append(String(s[cursor...])) }
        return out
    }
}

/// What a Split pre-tokenizer does with the matches of its pattern.
enum SplitBehavior: String {
    case removed, isolated, contiguous
    case mergedWithPrevious = "mergedwithprevious"
    case mergedWithNext = "mergedwithnext"

    func apply(_ s: String, _ matches: [Range<String.Index>], invert: Bool) -> [String] {
        // Pieces tagged as delimiter or not; `invert` swaps which is which.
        var pieces: [(String, Bool)] = []
        var cursor = s.startIndex
        for r in matches where !r.isEmpty {
            if cursor < r.lowerBound { pieces.append((String(s[cursor..<r.lowerBound]), invert)) }
            pieces.append((String(s[r]), !invert))
            cursor = r.upperBound
        }
        if cursor < s.endIndex { pieces.append((String(s[cursor...]), invert)) }
        switch self {
        case .removed: return pieces.filter { !$0.1 }.map(\.0)
        case .isolated: return pieces.map(\.0)
        case .contiguous:
            var out: [(String, Bool)] = []
            for p in pieces {
                if p.1, let last = out.last, last.1 { out[out.count - 1].0 += p.0 } else { out.append(p) }
            }
            return out.map(\.0)
        case .mergedWithPrevious:
            var out: [String] = []
            for p in pieces {
                if p.1, !out.isEmpty { out[out.count - 1] += p.0 } else { out.append(p.0) }
            }
            return out
        case .mergedWithNext:
            var out: [String] = []
            var pending = ""
            for p in pieces {
                if p.1 { pending += p.0 } else { out.append(pending + p.0); pending = "" }
            }
            if !pending.isEmpty { out.append(pending) }
            return out
        }
    }
}
