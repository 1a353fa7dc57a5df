import Foundation
import VLFiles
import VLIO

extension WorldTokenizers {
    /// BERT's special tokens, first in the vocabulary as in bert-base-uncased's order of kinds.
    public static let wordPieceSpecialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

    /// A BERT WordPiece vocabulary (`vocab.txt`, one token a line) with its `tokenizer_config.json`:
    /// the special tokens, every word of the world as one token, then single letters and their
    /// "##" continuations so that any lower-case word still tokenizes. Returns the vocabulary size.
    @discardableResult
    public static func writeWordPieceTokenizer(
        to directory: URL, words: [String] = World.vocabulary + ["."], maxLength: Int
    ) throws -> Int {
        let letters = "abcdefghijklmnopqrstuvwxyz".map(String.init)
        var tokens: [String] = []
        for t in wordPieceSpecialTokens + words + letters + letters.map({ "##" + $0 }) where !tokens.contains(t) {
            tokens.append(t)
        }
        try writeAtomically(
            Data((tokens.joined(separator: "\n") + "\n").utf8), to: directory.appendingPathComponent("vocab.txt"))
        try writeJSON(
            [
                "tokenizer_class": "BertTokenizer", "do_lower_case": true, "unk_token": "[UNK]", "sep_token": "[SEP]",
                "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]", "model_max_length": maxLength,
            ],
            to: directory.appendingPathComponent("tokenizer_config.json"))
        return tokens.count
    }
}
