import Foundation

/// BERT's tokenizer as transformers runs it: BertNormalizer (control characters removed, spaces
/// around CJK ideographs, lower case and accents stripped when uncased), BertPreTokenizer
/// (whitespace, every punctuation character alone), WordPiece (greedy longest match, "##"
/// continuations, [UNK] for words it cannot cover), then [CLS] … [SEP].
public final class WordPieceTokenizer {
    public let vocab: [String: Int]
    public let clsTokenId: Int, sepTokenId: Int, padTokenId: Int, unknownTokenId: Int
    public let lowercase: Bool
    public let stripAccents: Bool
    public let maxLength: Int
    private let idToToken: [Int: String]

    /// Loads `vocab.txt` (or the WordPiece `tokenizer.json`) and `tokenizer_config.json`.
    public init(directory: URL) throws {
        let config = (try? BPEFiles.readJSONObject(directory.appendingPathComponent("tokenizer_config.json"))) ?? [:]
        let vocabURL = directory.appendingPathComponent("vocab.txt")
        let vocab: [String: Int]
        if let data = FileManager.default.contents(atPath: vocabURL.path) {
            let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            var v: [String: Int] = [:]
            for (i, line) in lines.enumerated() where !(line.isEmpty && i == lines.count - 1) {
                let token = line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
                if v[token] == nil { v[token] = i }
            }
            vocab = v
        } else {
            let json = directory.appendingPathComponent("tokenizer.json")
            guard FileManager.default.fileExists(atPath: json.path) else {
                throw TokenizerError("\(directory.path): no tokenizer files (looked for vocab.txt and tokenizer.json)")
            }
            let root = try BPEFiles.readJSONObject(json)
            guard let model = root["model"] as? [String: Any], model["type"] as? String == "WordPiece",
                let v = model["vocab"] as? [String: Int]
            else { throw TokenizerError("\(json.path): not a WordPiece tokenizer") }
            vocab = v
        }
        func id(_ key: String, _ fallback: String) throws -> Int {
            let text = (config[key] as? String) ?? fallback
            guard let i = vocab[text] else {
                throw TokenizerError("\(directory.path): \(key) \(text) is not in the vocabulary")
            }
            return i
        }
        clsTokenId = try id("cls_token", "[CLS]")
        sepTokenId = try id("sep_token", "[SEP]")
        padTokenId = try id("pad_token", "[PAD]")
        unknownTokenId = try id("unk_token", "[UNK]")
        lowercase = config["do_lower_case"] as? Bool ?? true
        stripAccents = (config["strip_accents"] as? Bool) ?? lowercase
        let configured = (config["model_max_length"] as? NSNumber)?.intValue ?? 512
        maxLength = configured > 0 && configured < 1_000_000 ? configured : 512
        self.vocab = vocab
        idToToken = Dictionary(vocab.map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public func encode(_ text: String, addSpecialTokens: Bool = true, truncate: Bool = true) -> [Int] {
        var ids = words(normalize(text)).flatMap(wordPiece)
        if truncate && ids.count > maxLength - 2 { ids = Array(ids.prefix(maxLength - 2)) }
        return addSpecialTokens ? [clsTokenId] + ids + [sepTokenId] : ids
    }

    public func decode(_ ids: [Int]) -> String {
        var out = ""
        for id in ids where id != clsTokenId && id != sepTokenId && id != padTokenId {
            guard let t = idToToken[id] else { continue }
            if t.hasPrefix("##") { out += t.dropFirst(2) } else { out += (out.isEmpty ? "" : " ") + t }
        }
        return out
    }

    func normalize(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            if s.value == 0 || s.value == 0xFFFD { continue }
            let category = s.properties.generalCategory
            if s == "\t" || s == "\n" || s == "\r" || category == .spaceSeparator { out.append(" "); continue }
            if category == .control || category == .format { continue }
            if WordPieceTokenizer.isCJK(s) {
                out.append(" ")
                out.append(s)
                out.append(" ")
            } else {
                out.append(s)
            }
        }
        var result = String(out)
        if lowercase { result = result.lowercased() }
        if stripAccents {
            result = String(
                String.UnicodeScalarView(
                    result.decomposedStringWithCanonicalMapping.unicodeScalars.filter {
                        $0.properties.generalCategory != .nonspacingMark
                    }))
        }
        return result
    }

    /// Whitespace-separated pieces with every punctuation character on its own.
    func words(_ text: String) -> [String] {
        var out: [String] = []
        var current = String.UnicodeScalarView()
        func flush() {
            if !current.isEmpty { out.append(String(current)) }
            current = String.UnicodeScalarView()
        }
        for s in text.unicodeScalars {
            if s.properties.isWhitespace {
                flush()
            } else if WordPieceTokenizer.isPunctuation(s) {
                flush()
                out.append(String(s))
            } else {
                current.append(s)
            }
        }
        flush()
        return out
    }

    func wordPiece(_ word: String) -> [Int] {
        let chars = Array(word.unicodeScalars)
        if chars.count > 100 { return [unknownTokenId] }
        var ids: [Int] = []
        var start = 0
        while start < chars.count {
            var end = chars.count
            var found: Int?
            while start < end {
                var view = String.UnicodeScalarView()
                view.append(contentsOf: chars[start..<end])
                let piece = (start > 0 ? "##" : "") + String(view)
                if let id = vocab[piece] { found = id; break }
                end -= 1
            }
            guard let id = found else { return [unknownTokenId] }
            ids.append(id)
            start = end
        }
        return ids
    }

    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) {
            return true
        }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation:
            return true
        default: return false
        }
    }

    static func isCJK(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        return (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}
