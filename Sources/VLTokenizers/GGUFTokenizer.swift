import Foundation

/// The `tokenizer.*` metadata of a GGUF file (llama.cpp's key names), as plain values: reading the
/// file is VLIO's business, building a tokenizer from it is this module's.
public struct GGUFVocabulary {
    /// `tokenizer.ggml.model`: "gpt2" (byte-level BPE), "llama" (SentencePiece BPE), "gemma4", …
    public var model: String
    /// `tokenizer.ggml.pre`: the name of the pre-tokenizer ("llama-bpe", "qwen2", "smollm", "default", …).
    public var pre: String?
    public var tokens: [String]
    public var scores: [Float]?
    /// llama.cpp's token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    public var tokenTypes: [Int]?
    /// "left right" pairs, best first.
    public var merges: [String]?
    public var bosTokenId: Int?, eosTokenId: Int?, unknownTokenId: Int?, paddingTokenId: Int?
    public var addBosToken: Bool?, addEosToken: Bool?, addSpacePrefix: Bool?
    /// `general.architecture`, which some of transformers' conversions depend on (phi3, gemma, qwen2).
    public var architecture: String?
    /// `tokenizer.chat_template`.
    public var chatTemplate: String?

    public init(model: String, tokens: [String]) {
        self.model = model
        self.tokens = tokens
    }

    /// From GGUF metadata keyed by llama.cpp's names (`tokenizer.ggml.tokens`, …,
    /// `general.architecture`), with numbers as any integer or floating-point type; other keys are
    /// ignored. A value of the wrong kind is an error naming the key.
    public init(metadata: [String: Any], file: String) throws {
        func value<T>(_ key: String, _ convert: (Any) -> T?) throws -> T? {
            guard let raw = metadata[key] else { return nil }
            guard let v = convert(raw) else {
                throw TokenizerError("\(file): \(key) is not \(Self.kind(of: T.self)) (\(type(of: raw)))")
            }
            return v
        }
        guard let model = try value("tokenizer.ggml.model", { $0 as? String }) else {
            throw TokenizerError("\(file): no tokenizer.ggml.model (the file carries no tokenizer)")
        }
        guard let tokens = try value("tokenizer.ggml.tokens", { $0 as? [String] }) else {
            throw TokenizerError("\(file): no tokenizer.ggml.tokens")
        }
        self.init(model: model, tokens: tokens)
        pre = try value("tokenizer.ggml.pre", { $0 as? String })
        scores = try value("tokenizer.ggml.scores") { ($0 as? [Any]).flatMap { Self.all($0, Self.float) } }
        tokenTypes = try value("tokenizer.ggml.token_type") { ($0 as? [Any]).flatMap { Self.all($0, Self.int) } }
        merges = try value("tokenizer.ggml.merges", { $0 as? [String] })
        bosTokenId = try value("tokenizer.ggml.bos_token_id", Self.int)
        eosTokenId = try value("tokenizer.ggml.eos_token_id", Self.int)
        unknownTokenId = try value("tokenizer.ggml.unknown_token_id", Self.int)
        paddingTokenId = try value("tokenizer.ggml.padding_token_id", Self.int)
        addBosToken = try value("tokenizer.ggml.add_bos_token", { $0 as? Bool })
        addEosToken = try value("tokenizer.ggml.add_eos_token", { $0 as? Bool })
        addSpacePrefix = try value("tokenizer.ggml.add_space_prefix", { $0 as? Bool })
        architecture = try value("general.architecture", { $0 as? String })
        chatTemplate = try value("tokenizer.chat_template", { $0 as? String })
    }

    /// Every element converted, or nil when one does not convert.
    private static func all<T>(_ values: [Any], _ convert: (Any) -> T?) -> [T]? {
        var out: [T] = []
        out.reserveCapacity(values.count)
        for v in values {
            guard let t = convert(v) else { return nil }
            out.append(t)
        }
        return out
    }

    private static func int(_ v: Any) -> Int? {
        if let i = v as? Int { return i }
        if let n = v as? any BinaryInteger { return Int(exactly: n) }
        if let d = v as? Double, d == d.rounded(), abs(d) < 1e15 { return Int(d) }
        return nil
    }

    private static func float(_ v: Any) -> Float? {
        if let f = v as? Float { return f }
        if let d = v as? Double { return Float(d) }
        if let n = v as? any BinaryInteger { return Float(n) }
        return nil
    }

    private static func kind<T>(of: T.Type) -> String {
        switch T.self {
        case is String.Type: return "a string"
        case is [String].Type: return "an array of strings"
        case is [Float].Type: return "an array of numbers"
        case is [Int].Type: return "an array of integers"
        case is Int.Type: return "an integer"
        case is Bool.Type: return "a boolean"
        default: return "\(T.self)"
        }
    }
}

extension GGUFVocabulary {
    /// The `tokenizer.json`-shaped and `tokenizer_config.json`-shaped objects transformers builds from
    /// this metadata (`AutoTokenizer.from_pretrained(dir, gguf_file=…)`, transformers 5's
    /// integrations/gguf/gguf_tokenizer_mapping.py): the vocabulary as the file spells it (a
    /// byte-level one respelled into GPT-2's alphabet), the file's merges or, without them, merges
    /// recovered from the scores; GPT-2's, LLaMA's (Metaspace, byte fallback), Phi-3's or Gemma's
    /// normaliser, pre-tokeniser and decoder; the regex split `tokenizer.ggml.pre` names; control
    /// tokens as special and user-defined ones as plain added tokens; BOS/EOS as the flags say.
    /// `file` names the source in errors.
    public func tokenizerFiles(file: String) throws -> (tokenizerJSON: [String: Any], tokenizerConfig: [String: Any]) {
        try validate(file: file)
        var build = try GGUFTokenizerBuild(self, file: file)
        return try build.files()
    }

    /// The problems transformers would trip over (or silently misread), as errors naming them.
    func validate(file: String) throws {
        let n = tokens.count
        guard n > 0 else { throw TokenizerError("\(file): tokenizer.ggml.tokens is empty") }
        if let scores {
            guard scores.count == n else {
                throw TokenizerError("\(file): tokenizer.ggml.scores has \(scores.count) entries for \(n) tokens")
            }
            if let i = scores.firstIndex(where: \.isNaN) {
                throw TokenizerError("\(file): tokenizer.ggml.scores[\(i)] (token \(i)'s score) is not a number")
            }
        }
        if let tokenTypes {
            guard tokenTypes.count == n else {
                throw TokenizerError(
                    "\(file): tokenizer.ggml.token_type has \(tokenTypes.count) entries for \(n) tokens")
            }
            if let i = tokenTypes.firstIndex(where: { !(0...6).contains($0) }) {
                throw TokenizerError(
                    "\(file): token \(i) has type \(tokenTypes[i]), not one of llama.cpp's 0–6 (1 normal … 6 byte)")
            }
        }
        for (key, id) in [
            ("bos_token_id", bosTokenId), ("eos_token_id", eosTokenId), ("unknown_token_id", unknownTokenId),
            ("padding_token_id", paddingTokenId),
        ] {
            if let id, !(0..<n).contains(id) {
                throw TokenizerError("\(file): tokenizer.ggml.\(key) \(id) is not a token id (0..<\(n))")
            }
        }
    }
}

extension Tokenizer {
    /// The tokenizer transformers builds from a GGUF file's metadata (see `tokenizerFiles`).
    public convenience init(gguf: GGUFVocabulary, file: String) throws {
        let (root, config) = try gguf.tokenizerFiles(file: file)
        try self.init(tokenizerJSON: root, tokenizerConfig: config, file: file)
    }
}

/// One conversion, step by step as transformers takes it: the tokenizer class's own backend for the
/// vocabulary (GPT2Tokenizer, LlamaTokenizer or GemmaTokenizer) with that class's default special
/// tokens, the file's control and user-defined tokens, the split regex `tokenizer.ggml.pre` names,
/// then the special tokens the file names (and the final class's own defaults) and the BOS/EOS
/// template.
struct GGUFTokenizerBuild {
    enum Kind {
        /// "gpt2": GPT2Tokenizer.
        case byteLevel
        /// "llama": LlamaTokenizer (Metaspace "first", byte fallback).
        case sentencePiece
        /// "llama" under architecture phi3: a Prepend + Replace normaliser instead of Metaspace.
        case phi3
        /// "llama" under architecture gemma/gemma2/gemma3: GemmaTokenizer, whitespace tokens respelled
        /// with "▁", merges recovered in file order.
        case gemma
        /// "gemma4": GemmaTokenizer over the file's vocabulary and scores, no BOS.
        case gemma4
    }

    let v: GGUFVocabulary
    let file: String
    let kind: Kind
    /// The model's vocabulary as the backend spells it.
    var vocab: [String: Int] = [:]
    /// Added tokens in the order they were added, and their ids by content.
    var added: [(content: String, id: Int, special: Bool)] = []
    var addedIds: [String: Int] = [:]

    init(_ v: GGUFVocabulary, file: String) throws {
        self.v = v
        self.file = file
        let arch = v.architecture ?? ""
        switch v.model {
        case "gpt2": kind = .byteLevel
        case "llama" where ["gemma", "gemma2", "gemma3"].contains(arch): kind = .gemma
        case "llama" where arch == "phi3": kind = .phi3
        case "llama": kind = .sentencePiece
        case "gemma4": kind = .gemma4
        case "t5":
            throw TokenizerError(
                "\(file): tokenizer.ggml.model \"t5\" is a unigram tokenizer; only BPE vocabularies "
                    + "(\"gpt2\", \"llama\", \"gemma4\") are supported")
        case let other:
            throw TokenizerError(
                "\(file): tokenizer.ggml.model \"\(other)\" is not supported "
                    + "(supported: \"gpt2\", \"llama\", \"gemma4\")"
            )
        }
    }

    mutating func files() throws -> (tokenizerJSON: [String: Any], tokenizerConfig: [String: Any]) {
        // The backend's vocabulary.
        var tokens = v.tokens
        switch kind {
        case .byteLevel:
            let alphabet = Set(ByteLevel.encoder)
            tokens = tokens.map { t in
                t.unicodeScalars.allSatisfy { alphabet.contains(Character($0)) } ? t : String(ByteLevel.encode(t[...]))
            }
        case .gemma:
            tokens = tokens.map { t in
                t.contains(" ") && t.allSatisfy(\.isWhitespace)
                    ? String(repeating: "\u{2581}", count: t.unicodeScalars.count) : t
            }
        default: break
        }
        vocab = Self.lastIndex(tokens)
        let merges = try self.merges(tokens)

        var model: [String: Any] = [
            "type": "BPE", "vocab": vocab, "merges": merges.map { [$0.0, $0.1] }, "ignore_merges": false,
            "fuse_unk": kind != .byteLevel, "byte_fallback": kind != .byteLevel,
        ]
        var normalizer: [String: Any]?, preTokenizer: [String: Any]?, decoder: [String: Any]
        let spmDecoders: [[String: Any]] = [
            ["type": "Replace", "pattern": ["String": "\u{2581}"], "content": " "], ["type": "ByteFallback"],
            ["type": "Fuse"],
        ]
        let stripSpace: [String: Any] = ["type": "Strip", "content": " ", "start": 1, "stop": 0]
        // The intermediate class's default special tokens (bos, eos, unk, pad, mask order).
        let classDefaults: [String]
        switch kind {
        case .byteLevel:
            preTokenizer = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]
            decoder = ["type": "ByteLevel"]
            classDefaults = ["<|endoftext|>"]
        case .sentencePiece, .phi3:
            if kind == .phi3 {
                normalizer = [
                    "type": "Sequence",
                    "normalizers": [
                        ["type": "Prepend", "prepend": "\u{2581}"],
                        ["type": "Replace", "pattern": ["String": " "], "content": "\u{2581}"],
                    ],
                ]
            } else {
                preTokenizer = [
                    "type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "first", "split": false,
                ]
            }
            decoder = ["type": "Sequence", "decoders": spmDecoders + [stripSpace]]
            classDefaults = ["<s>", "</s>", "<unk>"]
        case .gemma, .gemma4:
            model["unk_token"] = "<unk>"
            normalizer = ["type": "Replace", "pattern": ["String": " "], "content": "\u{2581}"]
            preTokenizer = [
                "type": "Split", "pattern": ["String": " "], "behavior": "MergedWithPrevious", "invert": false,
            ]
            decoder = ["type": "Sequence", "decoders": spmDecoders]
            classDefaults = ["<bos>", "<eos>", "<unk>", "<pad>", "<mask>"]
        }
        for t in classDefaults { add(t, special: true) }

        // The file's control tokens as special (in a byte-level vocabulary only those spelled in its
        // alphabet: others are llama.cpp mislabels), then its user-defined tokens already in the vocabulary.
        if let types = v.tokenTypes {
            let alphabet = kind == .byteLevel ? Set(ByteLevel.encoder) : nil
            for (t, type) in zip(v.tokens, types) where type == 3 {
                if let alphabet, !t.unicodeScalars.allSatisfy({ alphabet.contains(Character($0)) }) { continue }
                add(t, special: true)
            }
            for (t, type) in zip(v.tokens, types) where type == 4 && (vocab[t] != nil || addedIds[t] != nil) {
                add(t, special: false)
            }
        }
        if let pre = v.pre, let split = Self.splits[pre] {
            preTokenizer = [
                "type": "Sequence",
                "pretokenizers": [
                    ["type": "Split", "pattern": ["Regex": split], "behavior": "Isolated", "invert": false],
                    ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false],
                ],
            ]
        }

        // The special tokens the file names, then those the final class brings (GemmaTokenizer's mask).
        let named: [(String, Int?)] = [
            ("bos_token", v.bosTokenId), ("eos_token", v.eosTokenId), ("unk_token", v.unknownTokenId),
            ("pad_token", v.paddingTokenId),
        ]
        var config: [String: Any] = ["clean_up_tokenization_spaces": false]
        for (key, id) in named {
            guard let id else { continue }
            config[key] = v.tokens[id]
            add(v.tokens[id], special: true)
        }
        if kind == .gemma, ["gemma", "gemma2", "gemma3"].contains(v.architecture ?? "") {
            config["mask_token"] = "<mask>"
            add("<mask>", special: true)
        }

        // BOS/EOS: a SentencePiece vocabulary adds BOS unless the file says otherwise (Gemma 4 never does).
        let bos = v.bosTokenId.map { v.tokens[$0] }, eos = v.eosTokenId.map { v.tokens[$0] }
        let defaultBos = kind != .byteLevel
        let addBos = kind == .gemma4 ? false : (v.addBosToken ?? defaultBos) && bos != nil
        let addEos = (v.addEosToken ?? false) && eos != nil
        config["add_bos_token"] = addBos
        config["add_eos_token"] = addEos
        if let template = v.chatTemplate { config["chat_template"] = template }
        var single: [[String: Any]] = [], specials: [String: Any] = [:]
        func special(_ token: String) {
            guard let id = addedIds[token] ?? vocab[token] else { return }
            single.append(["SpecialToken": ["id": token, "type_id": 0]])
            specials[token] = ["id": token, "ids": [id], "tokens": [token]]
        }
        if addBos, let bos { special(bos) }
        single.append(["Sequence": ["id": "A", "type_id": 0]])
        if addEos, let eos { special(eos) }

        var root: [String: Any] = [
            "model": model, "decoder": decoder,
            "post_processor": ["type": "TemplateProcessing", "single": single, "special_tokens": specials],
            // Sorted by id, as tokenizers writes them.
            "added_tokens": added.sorted { $0.id < $1.id }.map { t -> [String: Any] in
                [
                    "id": t.id, "content": t.content, "special": t.special, "lstrip": false, "rstrip": false,
                    "normalized": false, "single_word": false,
                ]
            },
        ]
        if let normalizer { root["normalizer"] = normalizer }
        if let preTokenizer { root["pre_tokenizer"] = preTokenizer }
        return (root, config)
    }

    /// tokenizers' AddedVocabulary.add_tokens: a token already added is left as it is; one in the
    /// model's vocabulary keeps its id; any other gets the next id past the vocabulary and the added tokens.
    mutating func add(_ content: String, special: Bool) {
        guard !content.isEmpty, addedIds[content] == nil else { return }
        let id: Int
        if let known = vocab[content] {
            id = known
        } else if let top = added.map(\.id).max(), top >= vocab.count || vocab.isEmpty {
            id = top + 1
        } else {
            id = vocab.count
        }
        added.append((content, id, special))
        addedIds[content] = id
    }

    /// The file's merges, each two tokens of the vocabulary making a third; without them, the merges
    /// the scores imply (Gemma 1–3: the order of the file).
    func merges(_ tokens: [String]) throws -> [(String, String)] {
        guard let lines = v.merges else {
            if kind == .gemma {
                return Self.generateMerges(tokens: tokens, scores: tokens.indices.map { -Float($0) })
            }
            guard let scores = v.scores else {
                throw TokenizerError(
                    "\(file): neither tokenizer.ggml.merges nor tokenizer.ggml.scores, so there are no merges to use")
            }
            return Self.generateMerges(tokens: tokens, scores: scores)
        }
        var out: [(String, String)] = []
        out.reserveCapacity(lines.count)
        for (i, line) in lines.enumerated() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw TokenizerError(
                    "\(file): tokenizer.ggml.merges[\(i)] \"\(line.prefix(60))\" is not two tokens separated by "
                        + "one space"
                )
            }
            let left = String(parts[0]), right = String(parts[1])
            for piece in [left, right, left + right] where vocab[piece] == nil {
                throw TokenizerError(
                    "\(file): tokenizer.ggml.merges[\(i)] \"\(line.prefix(60))\": \"\(piece.prefix(60))\" "
                        + "is not a token"
                )
            }
            out.append((left, right))
        }
        return out
    }

    /// transformers' `generate_merges(vocab, vocab_scores)`: every split of a token into two tokens
    /// (in code points, halves ordered by their ids), all sorted by the token's score, then the
    /// halves' lengths, highest first, ties kept in order. Duplicate tokens: the last id and score
    /// count, the first position.
    static func generateMerges(tokens: [String], scores: [Float]) -> [(String, String)] {
        let ids = lastIndex(tokens)
        var score: [String: Float] = [:], order: [String] = []
        for (t, s) in zip(tokens, scores) {
            if score[t] == nil { order.append(t) }
            score[t] = s
        }
        var found: [(left: String, right: String, key: (Float, Int, Int))] = []
        for token in order {
            let scalars = Array(token.unicodeScalars)
            guard scalars.count > 1 else { continue }
            var local: [(left: String, right: String, ids: (Int, Int), key: (Float, Int, Int))] = []
            for cut in 1..<scalars.count {
                var l = String.UnicodeScalarView(), r = String.UnicodeScalarView()
                l.append(contentsOf: scalars[..<cut])
                r.append(contentsOf: scalars[cut...])
                let left = String(l), right = String(r)
                guard let a = ids[left], let b = ids[right] else { continue }
                local.append((left, right, (a, b), (score[token]!, cut, scalars.count - cut)))
            }
            let sorted = local.indices.sorted { x, y in
                local[x].ids != local[y].ids ? local[x].ids < local[y].ids : x < y
            }
            found += sorted.map { (local[$0].left, local[$0].right, local[$0].key) }
        }
        // Python's sorted(reverse=True) is stable: equal keys keep their order.
        let order2 = found.indices.sorted { x, y in
            found[x].key != found[y].key ? found[x].key > found[y].key : x < y
        }
        return order2.map { (found[$0].left, found[$0].right) }
    }

    /// Python's `{token: index for index, token in enumerate(tokens)}`: the last of duplicates wins.
    static func lastIndex(_ tokens: [String]) -> [String: Int] {
        var d: [String: Int] = [:]
        d.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() { d[t] = i }
        return d
    }

    /// transformers' regex splits by `tokenizer.ggml.pre` (GGUF_PRE_TOKENIZER_SPLITS); any other
    /// name leaves the tokenizer class's own pre-tokeniser.
    static let splits: [String: String] = {
        let contractions = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)"#, spaces = #"|\s*[\r\n]+|\s+(?!\S)|\s+"#
        let llama3 = contractions + #"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"# + spaces
        let qwen2 = contractions + #"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"# + spaces
        let qwen35 = contractions + #"|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*"# + spaces
        let upper = #"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]"#, lower = #"[\p{Ll}\p{Lm}\p{Lo}\p{M}]"#
        let notLetter = #"[^\r\n\p{L}\p{N}]?"#
        let tekken =
            notLetter + upper + "*" + lower + "+|" + notLetter + upper + "+" + lower + "*"
            + #"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*"# + spaces
        let gpt4o =
            notLetter + upper + "*" + lower + "+" + contractions + "?|" + notLetter + upper + "+" + lower + "*"
            + contractions + #"?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*"# + spaces
        var table: [String: String] = [:]
        for name in [
            "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano",
            "dbrx", "smaug-bpe",
        ] {
            table[name] = llama3
        }
        table["tekken"] = tekken
        for name in ["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez"] { table[name] = qwen2 }
        table["qwen35"] = qwen35
        for name in ["gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"] { table[name] = gpt4o }
        return table
    }()
}
