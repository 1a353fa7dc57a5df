import Foundation
import VLFiles
import VLIO

/// Tokenizer files for models trained on the world, in the formats real checkpoints use, so the
/// trained directories load in VLKit and in transformers alike. Every word of the world is one
/// token (see `WordMerges`).
public enum WorldTokenizers {
    /// Words of the LLaVA and MiniGPT-4 conversation formats on top of the world's vocabulary.
    public static let conversationWords = ["USER:", "ASSISTANT:", "###Human:", "###Assistant:", "<Img>", "</Img>"]
    public static let specialTokens = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]

    /// A LLaMA-style `tokenizer.json` (Metaspace "▁" words, BPE, `<s>` prepended) with its
    /// `tokenizer_config.json`: ids 0–4 are `<unk> <s> </s> <pad> <image>`.
    public static func writeLanguageModelTokenizer(
        to directory: URL, words: [String] = World.vocabulary + conversationWords
    ) throws {
        var vocab: [String: Int] = [:]
        for t in specialTokens { vocab[t] = vocab.count }
        let characters = Set((words + ["\n"]).flatMap { $0.map(String.init) } + ["▁"]).sorted()
        var merges = WordMerges()
        // "▁word" for words after a space, bare "word" after a newline; "▁\n" for the newline itself.
        for word in words.flatMap({ ["▁" + $0, $0] }) + ["▁\n"] { merges.makeOneToken(word.map(String.init)) }
        for token in characters + merges.tokens where vocab[token] == nil { vocab[token] = vocab.count }
        let added: [[String: Any]] = specialTokens.map {
            [
                "id": vocab[$0]!, "content": $0, "single_word": false, "lstrip": false, "rstrip": false,
                "normalized": false, "special": true,
            ]
        }
        let metaspace: [String: Any] = [
            "type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true,
        ]
        let tokenizer: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": added,
            "normalizer": NSNull(),
            "pre_tokenizer": metaspace,
            "post_processor": [
                "type": "TemplateProcessing",
                "single": [["SpecialToken": ["id": "<s>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
                "pair": [
                    ["SpecialToken": ["id": "<s>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                    ["Sequence": ["id": "B", "type_id": 1]],
                ],
                "special_tokens": ["<s>": ["id": "<s>", "ids": [1], "tokens": ["<s>"]]],
            ] as [String: Any],
            "decoder": metaspace,
            "model": [
                "type": "BPE", "dropout": NSNull(), "unk_token": "<unk>", "continuing_subword_prefix": NSNull(),
                "end_of_word_suffix": NSNull(), "fuse_unk": true, "byte_fallback": false, "ignore_merges": false,
                "vocab": vocab, "merges": merges.merges.map { "\($0.0) \($0.1)" },
            ] as [String: Any],
        ]
        try writeJSON(tokenizer, to: directory.appendingPathComponent("tokenizer.json"))
        try writeJSON(
            [
                "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
                "unk_token": "<unk>",
                "pad_token": "<pad>", "model_max_length": 1024, "padding_side": "right",
            ],
            to: directory.appendingPathComponent("tokenizer_config.json"))
    }

    /// CLIP's `vocab.json` + `merges.txt` ("</w>" ends a word; `<|startoftext|>` and
    /// `<|endoftext|>` are the last two ids, as in OpenAI's vocabulary) and `tokenizer_config.json`.
    /// Returns the vocabulary size.
    @discardableResult
    public static func writeCLIPTokenizer(
        to directory: URL, words: [String] = World.vocabulary, maxLength: Int
    ) throws -> Int {
        var vocab: [String: Int] = [:]
        func add(_ token: String) { if vocab[token] == nil { vocab[token] = vocab.count } }
        let characters = Set(words.flatMap { $0.map(String.init) }).sorted()
        var merges = WordMerges()
        for word in words {
            var symbols = word.map(String.init)
            symbols[symbols.count - 1] += "</w>"
            merges.makeOneToken(symbols)
        }
        (characters + characters.map { $0 + "</w>" } + merges.tokens + ["<|startoftext|>", "<|endoftext|>"]).forEach(
            add)
        try writeJSON(vocab, to: directory.appendingPathComponent("vocab.json"))
        try writeAtomically(
            Data((["#version: 0.2"] + merges.merges.map { "\($0.0) \($0.1)" }).joined(separator: "\n").utf8 + [10]),
            to: directory.appendingPathComponent("merges.txt"))
        try writeJSON(
            [
                "tokenizer_class": "CLIPTokenizer", "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
                "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "model_max_length": maxLength,
            ],
            to: directory.appendingPathComponent("tokenizer_config.json"))
        return vocab.count
    }
}

/// BPE merges built word by word so that each word ends as one token: a new word is first split as
/// the merges so far split it, then merges join its pieces left to right. Later merges rank
/// below every earlier one, so they never change how an earlier word is split.
struct WordMerges {
    private(set) var merges: [(String, String)] = []
    private(set) var tokens: [String] = []
    private var rank: [String: Int] = [:]

    /// The pieces byte-pair encoding gives `symbols` with the merges so far (lowest rank first).
    func split(_ symbols: [String]) -> [String] {
        var pieces = symbols
        while pieces.count > 1 {
            let ranked = (0..<(pieces.count - 1)).compactMap { i in
                rank[pieces[i] + " " + pieces[i + 1]].map { (i, $0) }
            }
            guard let (i, _) = ranked.min(by: { $0.1 < $1.1 }) else { break }
            pieces[i...(i + 1)] = [pieces[i] + pieces[i + 1]]
        }
        return pieces
    }

    mutating func makeOneToken(_ symbols: [String]) {
        var pieces = split(symbols)
        while pieces.count > 1 {
            let key = pieces[0] + " " + pieces[1]
            rank[key] = merges.count
            merges.append((pieces[0], pieces[1]))
            tokens.append(pieces[0] + pieces[1])
            pieces[0...1] = [pieces[0] + pieces[1]]
        }
    }
}

/// Writes a JSON object with sorted keys, atomically. Floating-point values keep a decimal point
/// (`1.0`, not `1`): transformers' config classes refuse an integer where a float belongs.
public func writeJSON(_ object: Any, to url: URL) throws {
    try writeAtomically(Data((jsonText(object, indent: "") + "\n").utf8), to: url)
}

func jsonText(_ value: Any, indent: String) -> String {
    let inner = indent + "  "
    switch value {
    case let b as Bool: return b ? "true" : "false"
    case let i as Int: return String(i)
    case let i as UInt64: return String(i)
    case let d as Double: return d.isFinite ? "\(d)" : "null"
    case let f as Float: return f.isFinite ? "\(Double(f))" : "null"
    case let s as String:
        let data = try! JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    case let a as [Any]:
        if a.isEmpty { return "[]" }
        return "[\n" + a.map { inner + jsonText($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
    case let o as [String: Any]:
        if o.isEmpty { return "{}" }
        return "{\n"
            + o.keys.sorted().map { inner + jsonText($0, indent: inner) + ": " + jsonText(o[$0]!, indent: inner) }
            .joined(separator: ",\n") + "\n\(indent)}"
    default: return "null"  // NSNull and anything else
    }
}
