import Foundation

/// CLIP's tokenizer as transformers runs it: special tokens split out first, then NFC,
/// whitespace runs → " ", lower-casing, CLIP's pre-tokenizer regex, byte-level characters, BPE with
/// a "</w>" end-of-word suffix, and `<|startoftext|>` … `<|endoftext|>` around; truncation keeps
/// the end token and padding uses the pad token (77 positions by default).
public final class CLIPTokenizer {
    public let bpe: BytePairEncoder
    public let bosTokenId: Int
    public let eosTokenId: Int
    public let padTokenId: Int
    public let maxLength: Int
    /// Special token text → id, matched literally in the input before normalisation.
    private let special: [(String, Int)]

    /// Loads `vocab.json` + `merges.txt` (or `tokenizer.json`) and `tokenizer_config.json` from a model directory.
    public init(directory: URL, maxLength: Int = 77) throws {
        var files = try BPEFiles.load(directory: directory)
        if files.endOfWordSuffix.isEmpty { files.endOfWordSuffix = "</w>" }
        let config = (try? BPEFiles.readJSONObject(directory.appendingPathComponent("tokenizer_config.json"))) ?? [:]
        func tokenId(_ key: String, _ fallback: String) throws -> Int {
            let text = CLIPTokenizer.tokenText(config[key]) ?? fallback
            guard let id = files.addedTokens[text] ?? files.vocab[text] else {
                throw TokenizerError("\(directory.path): \(key) \"\(text)\" is not in the vocabulary")
            }
            return id
        }
        bosTokenId = try tokenId("bos_token", "<|startoftext|>")
        eosTokenId = try tokenId("eos_token", "<|endoftext|>")
        padTokenId = try tokenId("pad_token", "<|endoftext|>")
        let configured = (config["model_max_length"] as? NSNumber)?.doubleValue ?? 0
        self.maxLength = configured >= 2 && configured < 1e6 ? Int(configured) : maxLength
        var specials = files.addedTokens
        specials["<|startoftext|>"] = bosTokenId
        specials["<|endoftext|>"] = eosTokenId
        special = specials.sorted { $0.key.count > $1.key.count }.map { ($0.key, $0.value) }
        bpe = BytePairEncoder(vocab: files.vocab, merges: files.merges, endOfWordSuffix: files.endOfWordSuffix)
    }

    private static func tokenText(_ value: Any?) -> String? {
        if let s = value as? String { return s }
        return (value as? [String: Any])?["content"] as? String
    }

    public var vocabSize: Int { bpe.vocab.count }

    /// Token ids of `text`, with the start and end tokens unless `addSpecialTokens` is false.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        var ids: [Int] = []
        for piece in splitSpecialTokens(text) {
            switch piece {
            case .special(let id): ids.append(id)
            case .text(let t):
                for word in CLIPTokenizer.preTokenize(CLIPTokenizer.normalize(t)) {
                    ids += bpe.encode(word: ByteLevel.encode(word))
                }
            }
        }
        return addSpecialTokens ? [bosTokenId] + ids + [eosTokenId] : ids
    }

    /// A batch padded (and truncated) to `padTo` positions, with attention masks.
    public func callAsFunction(
        _ texts: [String], padTo: Int? = nil, truncate: Bool = true
    ) -> (ids: [[Int]], attentionMask: [[Int]]) {
        let length = padTo ?? maxLength
        var rows: [[Int]] = [], masks: [[Int]] = []
        for text in texts {
            var ids = encode(text, addSpecialTokens: false)
            if truncate && ids.count > length - 2 { ids = Array(ids.prefix(Swift.max(length - 2, 0))) }
            ids = [bosTokenId] + ids + [eosTokenId]
            let real = ids.count
            if ids.count < length { ids += [Int](repeating: padTokenId, count: length - ids.count) }
            rows.append(ids)
            masks.append((0..<ids.count).map { $0 < real ? 1 : 0 })
        }
        return (rows, masks)
    }

    /// Text of `ids`: "</w>" becomes a space, byte-level characters become UTF-8 again.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String {
        var bytes: [UInt8] = []
        let specialIds = Set(special.map(\.1))
        for id in ids {
            if skipSpecialTokens && specialIds.contains(id) { continue }
            guard var token = bpe.idToToken[id] else { continue }
            var wordEnd = false
            if token.hasSuffix(bpe.endOfWordSuffix) && !bpe.endOfWordSuffix.isEmpty {
                token.removeLast(bpe.endOfWordSuffix.count)
                wordEnd = true
            }
            if specialIds.contains(id) {
                bytes += Array(token.utf8)
            } else {
                for ch in token { if let b = ByteLevel.decoder[ch] { bytes.append(b) } }
            }
            if wordEnd { bytes.append(0x20) }
        }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }

    // MARK: - Pipeline steps

    enum Piece { case text(String), special(Int) }

    /// Splits out special tokens written literally in the text (they are not normalised).
    func splitSpecialTokens(_ text: String) -> [Piece] {
        var pieces: [Piece] = []
        var rest = Substring(text)
        outer: while !rest.isEmpty {
            var earliest: (Range<Substring.Index>, Int)?
            for (token, id) in special {
                if let r = rest.range(of: token), r.lowerBound < (earliest?.0.lowerBound ?? rest.endIndex) {
                    earliest = (r, id)
                }
            }
            guard let (range, id) = earliest else { break outer }
            if range.lowerBound > rest.startIndex { pieces.append(.text(String(rest[..<range.lowerBound]))) }
            pieces.append(.special(id))
            rest = rest[range.upperBound...]
        }
        if !rest.isEmpty { pieces.append(.text(String(rest))) }
        return pieces
    }

    /// NFC, every whitespace run → one space, lower case.
    static func normalize(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var inSpace = false
        for scalar in text.precomposedStringWithCanonicalMapping.unicodeScalars {
            if scalar.properties.isWhitespace {
                if !inSpace { out.append(" ") }
                inSpace = true
            } else {
                out.append(scalar)
                inSpace = false
            }
        }
        return String(out).lowercased()
    }

    /// CLIP's pattern `'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`, leftmost-first;
    /// whatever it does not match (whitespace) is dropped.
    static func preTokenize(_ text: String) -> [Substring] {
        let scalars = Array(text.unicodeScalars)
        var words: [Substring] = []
        var i = 0
        let contractions: [[Unicode.Scalar]] = ["s", "t", "re", "ve", "m", "ll", "d"].map { Array($0.unicodeScalars) }
        func emit(_ start: Int, _ end: Int) {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[start..<end])
            words.append(Substring(String(view)))
        }
        while i < scalars.count {
            let s = scalars[i]
            if s.properties.isWhitespace { i += 1; continue }
            if s == "'",
                let c = contractions.first(where: { c in
                    i + 1 + c.count <= scalars.count && Array(scalars[(i + 1)..<(i + 1 + c.count)]) == c
                })
            {
                emit(i, i + 1 + c.count)
                i += 1 + c.count
                continue
            }
            var j = i + 1
            if isLetter(s) {
                while j < scalars.count && isLetter(scalars[j]) { j += 1 }
            } else if isNumber(s) {
                j = i + 1
            } else {
                while j < scalars.count && !scalars[j].properties.isWhitespace && !isLetter(scalars[j])
                    && !isNumber(scalars[j])
                { j += 1 }
            }
            emit(i, j)
            i = j
        }
        return words
    }

    static func isLetter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isNumber(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }
}
