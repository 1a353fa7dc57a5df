import Foundation

/// A Hugging Face `tokenizer.json` BPE tokenizer as transformers runs it (its `tokenizers`
/// backend): added tokens split out first, then per stretch of text the normaliser, the
/// pre-tokeniser and BPE (with byte fallback or byte-level characters), then the template's special
/// tokens; decoding runs the file's decoder. Covers GPT-2/OPT, LLaMA-2/Vicuna (SentencePiece-style,
/// legacy or Metaspace), LLaMA-3 and Qwen2 layouts.
public final class Tokenizer {
    public struct AddedToken {
        public let content: String
        public let id: Int
        public let special: Bool
        let lstrip: Bool, rstrip: Bool
    }

    public let bpe: BytePairEncoder
    public let addedTokens: [AddedToken]
    public let bosTokenId: Int?
    public let eosTokenId: Int?
    public let padTokenId: Int?
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let decoder: TokenDecoder?
    /// Ids before and after the sequence when special tokens are added.
    let prefix: [Int], suffix: [Int]
    let cleanUpSpaces: Bool
    private let addedById: [Int: AddedToken]
    private let addedByLength: [AddedToken]

    /// Reads `tokenizer.json`, or else a SentencePiece `tokenizer.model`, with `tokenizer_config.json`.
    public convenience init(directory: URL) throws {
        let config = try? BPEFiles.readJSONObject(directory.appendingPathComponent("tokenizer_config.json"))
        try self.init(directory: directory, tokenizerConfig: config)
    }

    /// Reads `tokenizer.json`, or else a SentencePiece `tokenizer.model`, with an already parsed
    /// `tokenizer_config.json` (a model directory reads that file once).
    public convenience init(directory: URL, tokenizerConfig: [String: Any]?) throws {
        let fm = FileManager.default
        let json = directory.appendingPathComponent("tokenizer.json"),
            spm = directory.appendingPathComponent("tokenizer.model")
        let root: [String: Any], file: String
        if fm.fileExists(atPath: json.path) {
            (root, file) = (try BPEFiles.readJSONObject(json), json.path)
        } else if fm.fileExists(atPath: spm.path) {
            (root, file) = (
                try SentencePieceModel(contentsOf: spm).tokenizerJSON(config: tokenizerConfig ?? [:]), spm.path
            )
        } else {
            throw TokenizerError("\(directory.path): no tokenizer.json or tokenizer.model")
        }
        try self.init(tokenizerJSON: root, tokenizerConfig: tokenizerConfig, file: file)
    }

    /// From the object of a `tokenizer.json` (read from a file or built in memory, e.g. from a GGUF
    /// file's metadata) and of a `tokenizer_config.json`; `file` names the source in errors.
    public init(tokenizerJSON root: [String: Any], tokenizerConfig: [String: Any]?, file: String) throws {
        let config = tokenizerConfig ?? [:]
        let files = try BPEFiles.fromTokenizerJSON(root, file: file)
        guard let model = root["model"] as? [String: Any] else { throw TokenizerError("\(file): no model") }
        let bpe = BytePairEncoder(
            vocab: files.vocab, merges: files.merges, endOfWordSuffix: files.endOfWordSuffix,
            unknownToken: model["unk_token"] as? String)
        bpe.byteFallback = model["byte_fallback"] as? Bool ?? false
        bpe.fuseUnknown = model["fuse_unk"] as? Bool ?? false
        bpe.ignoreMerges = model["ignore_merges"] as? Bool ?? false
        self.bpe = bpe
        normalizer = try (root["normalizer"] as? [String: Any]).map { try Normalizer(json: $0, file: file) }
        preTokenizer = try (root["pre_tokenizer"] as? [String: Any]).map { try PreTokenizer(json: $0, file: file) }
        decoder = try (root["decoder"] as? [String: Any]).map { try TokenDecoder(json: $0, file: file) }
        addedTokens = (root["added_tokens"] as? [[String: Any]] ?? []).compactMap { d in
            guard let content = d["content"] as? String, let id = d["id"] as? Int else { return nil }
            return AddedToken(
                content: content, id: id, special: d["special"] as? Bool ?? false,
                lstrip: d["lstrip"] as? Bool ?? false, rstrip: d["rstrip"] as? Bool ?? false)
        }
        addedById = Dictionary(addedTokens.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        addedByLength = addedTokens.filter { !$0.content.isEmpty }.sorted { $0.content.count > $1.content.count }
        let lookup = { (t: String) in files.addedTokens[t] ?? files.vocab[t] }
        (prefix, suffix) = try Tokenizer.template(root["post_processor"] as? [String: Any], lookup: lookup, file: file)
        func special(_ key: String) -> Int? {
            let v = config[key]
            let text = (v as? String) ?? ((v as? [String: Any])?["content"] as? String)
            return text.flatMap(lookup)
        }
        bosTokenId = special("bos_token")
        eosTokenId = special("eos_token")
        padTokenId = special("pad_token")
        cleanUpSpaces = config["clean_up_tokenization_spaces"] as? Bool ?? false
    }

    public var vocabSize: Int { Swift.max(bpe.vocab.count, (addedTokens.map(\.id).max() ?? -1) + 1) }

    /// The id of a token's text (vocabulary or added tokens).
    public func tokenId(_ token: String) -> Int? { addedTokens.first { $0.content == token }?.id ?? bpe.vocab[token] }

    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        var ids: [Int] = []
        var atStart = true
        for piece in splitAddedTokens(text) {
            switch piece {
            case .added(let id): ids.append(id)
            case .text(let t):
                let normalized = normalizer?.apply(t) ?? t
                let words = preTokenizer?.split([normalized], atStart: atStart) ?? [normalized]
                for w in words where !w.isEmpty {
                    ids += bpe.encode(word: w.unicodeScalars.map { Character($0) })
                }
            }
            atStart = false
        }
        return addSpecialTokens ? prefix + ids + suffix : ids
    }

    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        let tokens: [String] = ids.compactMap { id in
            if let added = addedById[id] { return skipSpecialTokens && added.special ? nil : added.content }
            return bpe.idToToken[id]
        }
        var text = (decoder?.apply(tokens) ?? tokens).joined()
        if cleanUpSpaces {
            for (from, to) in [
                (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
                (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
            ] {
                text = text.replacingOccurrences(of: from, with: to)
            }
        }
        return text
    }

    enum Piece { case text(String), added(Int) }

    /// Splits out added tokens written in the text (leftmost, longest first), honouring lstrip/rstrip.
    func splitAddedTokens(_ text: String) -> [Piece] {
        guard !addedByLength.isEmpty else { return [.text(text)] }
        var pieces: [Piece] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            var best: (Range<Substring.Index>, AddedToken)?
            for token in addedByLength {
                guard let r = rest.range(of: token.content) else { continue }
                if best == nil || r.lowerBound < best!.0.lowerBound { best = (r, token) }
            }
            guard let (range, token) = best else { break }
            var before = rest[..<range.lowerBound]
            if token.lstrip { while before.last?.isWhitespace == true { before = before.dropLast() } }
            if !before.isEmpty { pieces.append(.text(String(before))) }
            pieces.append(.added(token.id))
            rest = rest[range.upperBound...]
            if token.rstrip { rest = rest.drop { $0.isWhitespace } }
        }
        if !rest.isEmpty { pieces.append(.text(String(rest))) }
        return pieces
    }

    /// The ids a post-processor puts before and after a single sequence.
    static func template(_ json: [String: Any]?, lookup: (String) -> Int?, file: String) throws -> ([Int], [Int]) {
        guard let json else { return ([], []) }
        switch json["type"] as? String {
        case "TemplateProcessing":
            var before: [Int] = [], after: [Int] = [], seenSequence = false
            let specials = json["special_tokens"] as? [String: [String: Any]] ?? [:]
            for item in json["single"] as? [[String: Any]] ?? [] {
                if item["Sequence"] != nil { seenSequence = true; continue }
                guard let s = item["SpecialToken"] as? [String: Any], let name = s["id"] as? String else { continue }
                let ids = (specials[name]?["ids"] as? [Int]) ?? lookup(name).map { [$0] }
                guard let ids else { throw TokenizerError("\(file): template token \(name) is not in the vocabulary") }
                if seenSequence { after += ids } else { before += ids }
            }
            return (before, after)
        case "RobertaProcessing", "BertProcessing":
            guard let cls = json["cls"] as? [Any], let sep = json["sep"] as? [Any], let c = cls.last as? Int,
                let s = sep.last as? Int
            else {
                throw TokenizerError("\(file): post-processor without cls/sep")
            }
            return ([c], [s])
        case "ByteLevel":
            return ([], [])
        case "Sequence":
            var before: [Int] = [], after: [Int] = []
            for p in json["processors"] as? [[String: Any]] ?? [] {
                let (b, a) = try template(p, lookup: lookup, file: file)
                before += b
                after = a + after
            }
            return (before, after)
        case let other:
            throw TokenizerError("\(file): post-processor \(other ?? "without a type") is not supported")
        }
    }
}
