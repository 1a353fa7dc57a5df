import Foundation
import VLIO

/// Tokenizer files for models trained on the world, in the formats real checkpoints use, so the
/// trained directories load in VLKit and in transformers alike. The BPE merges build each word
/// character by character (a word whose start an earlier merge claims ends up as two or three tokens).
public enum WorldTokenizers {
    /// Words of the LLaVA conversation format on top of the world's vocabulary.
    public static let conversationWords = ["USER:", "ASSISTANT:"]
    public static let specialTokens = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]

    /// A LLaMA-style `tokenizer.json` (Metaspace "▁" words, BPE, `<s>` prepended) with its
    /// `tokenizer_config.json`: ids 0–4 are `<unk> <s> </s> <pad> <image>`.
    public static func writeLanguageModelTokenizer(to directory: URL, words: [String] = World.vocabulary + conversationWords) throws {
        var vocab: [String: Int] = [:]
        var merges: [String] = []
        for t in specialTokens { vocab[t] = vocab.count }
        func add(_ token: String) { if vocab[token] == nil { vocab[token] = vocab.count } }
        let characters = Set((words + ["\n"]).flatMap { $0.map(String.init) } + ["▁"]).sorted()
        characters.forEach(add)
        // "▁word" for words after a space, bare "word" after a newline; "▁\n" for the newline itself.
        for word in words.flatMap({ ["▁" + $0, $0] }) + ["▁\n"] where word.count > 1 {
            var piece = String(word.first!)
            for c in word.dropFirst() {
                if vocab[piece + String(c)] == nil { merges.append("\(piece) \(c)") }
                piece += String(c)
                add(piece)
            }
        }
        let added: [[String: Any]] = specialTokens.map {
            ["id": vocab[$0]!, "content": $0, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true]
        }
        let metaspace: [String: Any] = ["type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true]
        let tokenizer: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": added, "normalizer": NSNull(),
            "pre_tokenizer": metaspace,
            "post_processor": [
                "type": "TemplateProcessing",
                "single": [["SpecialToken": ["id": "<s>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
                "pair": [["SpecialToken": ["id": "<s>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                         ["Sequence": ["id": "B", "type_id": 1]]],
                "special_tokens": ["<s>": ["id": "<s>", "ids": [1], "tokens": ["<s>"]]],
            ] as [String: Any],
            "decoder": metaspace,
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": "<unk>", "continuing_subword_prefix": NSNull(),
                      "end_of_word_suffix": NSNull(), "fuse_unk": true, "byte_fallback": false, "ignore_merges": false,
                      "vocab": vocab, "merges": merges] as [String: Any],
        ]
        try writeJSON(tokenizer, to: directory.appendingPathComponent("tokenizer.json"))
        try writeJSON(["tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                       "pad_token": "<pad>", "model_max_length": 1024, "padding_side": "right"],
                      to: directory.appendingPathComponent("tokenizer_config.json"))
    }

    /// CLIP's `vocab.json` + `merges.txt` ("</w>" ends a word; `<|startoftext|>` and
    /// `<|endoftext|>` are the last two ids, as in OpenAI's vocabulary) and `tokenizer_config.json`.
    /// Returns the vocabulary size.
    @discardableResult
    public static func writeCLIPTokenizer(to directory: URL, words: [String] = World.vocabulary, maxLength: Int) throws -> Int {
        var vocab: [String: Int] = [:]
        var merges: [String] = []
        func add(_ token: String) { if vocab[token] == nil { vocab[token] = vocab.count } }
        let characters = Set(words.flatMap { $0.map(String.init) }).sorted()
        characters.forEach(add)
        characters.forEach { add($0 + "</w>") }
        for word in words where word.count > 1 {
            var symbols = word.map(String.init)
            symbols[symbols.count - 1] += "</w>"
            var piece = symbols[0]
            for s in symbols.dropFirst() {
                if vocab[piece + s] == nil { merges.append("\(piece) \(s)") }
                piece += s
                add(piece)
            }
        }
        add("<|startoftext|>")
        add("<|endoftext|>")
        try writeJSON(vocab, to: directory.appendingPathComponent("vocab.json"))
        try writeAtomically(Data((["#version: 0.2"] + merges).joined(separator: "\n").utf8 + [10]),
                            to: directory.appendingPathComponent("merges.txt"))
        try writeJSON(["tokenizer_class": "CLIPTokenizer", "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
                       "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "model_max_length": maxLength],
                      to: directory.appendingPathComponent("tokenizer_config.json"))
        return vocab.count
    }
}

/// Writes a JSON object with sorted keys, atomically.
public func writeJSON(_ object: Any, to url: URL) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    try writeAtomically(data + [10], to: url)
}
