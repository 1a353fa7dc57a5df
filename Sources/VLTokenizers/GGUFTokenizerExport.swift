import Foundation

extension Tokenizer {
    /// The tokenizer as llama.cpp's `tokenizer.*` metadata: byte-level BPE as "gpt2" (tokens, merges, the
    /// GPT-2 pre-tokenizer), SentencePiece-style BPE ("▁" words) as "llama", whose merges llama.cpp and
    /// transformers rebuild from token scores: a token made by the merge of rank r scores −r, so the
    /// rebuilt merges come in this tokenizer's order. Added special tokens are control tokens.
    public func ggufVocabulary() throws -> GGUFVocabulary {
        let byteLevel = preTokenizer?.isByteLevel ?? false
        let added = Dictionary(addedTokens.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var tokens: [String] = [], types: [Int] = []
        let isByte = { (t: String) in !byteLevel && t.count == 6 && t.hasPrefix("<0x") && t.hasSuffix(">") }
        for id in 0..<vocabSize {
            if let t = added[id]?.content ?? bpe.idToToken[id], isByte(t) {
                tokens.append(t)
                types.append(6)  // SentencePiece's byte fallback tokens, added or not
            } else if let a = added[id] {
                tokens.append(a.content)
                types.append(a.special ? 3 : 4)
            } else if let t = bpe.idToToken[id] {
                tokens.append(t)
                types.append(1)
            } else {
                tokens.append("[PAD\(id)]")  // an id the vocabulary skips
                types.append(5)
            }
        }
        var v = GGUFVocabulary(model: byteLevel ? "gpt2" : "llama", tokens: tokens)
        v.tokenTypes = types
        if byteLevel {
            v.pre = "gpt-2"
            v.merges = bpe.merges.map { "\($0.0) \($0.1)" }
        } else {
            var scores = [Float](repeating: 0, count: tokens.count)
            for (rank, m) in bpe.merges.enumerated() {
                if let id = bpe.vocab[m.0 + m.1], scores[id] == 0 { scores[id] = -Float(rank + 1) }
            }
            v.scores = scores
            v.addSpacePrefix = true
        }
        (v.bosTokenId, v.eosTokenId, v.paddingTokenId) = (bosTokenId, eosTokenId, padTokenId)
        v.unknownTokenId = bpe.vocab["<unk>"]
        v.addBosToken = bosTokenId.map { prefix.contains($0) } ?? false
        v.addEosToken = eosTokenId.map { suffix.contains($0) } ?? false
        return v
    }
}
