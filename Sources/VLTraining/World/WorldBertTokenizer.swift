import Foundation
import VLFiles
import VLIO

extension WorldTokenizers {
    /// BERT's special tokens, and LAVIS's `[DEC]` (the BOS token of BLIP-2's image-grounded text generation).
    public static let bertSpecialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]

    /// The Q-Former's text side: a lower-cased BERT WordPiece `vocab.txt` (the special tokens, then
    /// one token per world word) and its `tokenizer_config.json`, as `BertTokenizer` reads them.
    public static func writeBertTokenizer(to directory: URL, words: [String] = World.vocabulary, maxLength: Int) throws
    {
        var seen = Set<String>()
        let tokens = (bertSpecialTokens + words).filter { seen.insert($0).inserted }
        try writeAtomically(
            Data((tokens.joined(separator: "\n") + "\n").utf8), to: directory.appendingPathComponent("vocab.txt"))
        try writeJSON(
            [
                "tokenizer_class": "BertTokenizer", "do_lower_case": true, "cls_token": "[CLS]", "sep_token": "[SEP]",
                "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]", "bos_token": "[DEC]",
                "model_max_length": maxLength,
            ],
            to: directory.appendingPathComponent("tokenizer_config.json"))
    }
}
