import Foundation

/// Byte-pair encoding over a vocabulary and ranked merges, as the `tokenizers` BPE model: a word
/// starts as its characters (the last one carrying `endOfWordSuffix`, e.g. CLIP's "</w>") and the
/// adjacent pair of lowest rank is merged until none is left. Results are cached per word.
public final class BytePairEncoder {
    public let vocab: [String: Int]
    public let idToToken: [Int: String]
    /// The merges in rank order.
    public let merges: [(String, String)]
    public let endOfWordSuffix: String
    private let ranks: [Pair: Int]
    private var cache: [String: [Int]] = [:]
    private let cacheLock = NSLock()
    private let unknownId: Int?
    /// Characters missing from the vocabulary become `<0xXX>` byte tokens (SentencePiece style).
    public var byteFallback = false
    /// Consecutive unknown tokens become one.
    public var fuseUnknown = false
    /// A word that is itself in the vocabulary is taken whole (LLaMA-3).
    public var ignoreMerges = false

    struct Pair: Hashable {
        let left: String
        let right: String
    }

    public init(
        vocab: [String: Int], merges: [(String, String)], endOfWordSuffix: String = "", unknownToken: String? = nil
    ) {
        self.vocab = vocab
        self.merges = merges
        idToToken = Dictionary(vocab.map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        self.endOfWordSuffix = endOfWordSuffix
        var r: [Pair: Int] = [:]
        r.reserveCapacity(merges.count)
        for (i, m) in merges.enumerated() where r[Pair(left: m.0, right: m.1)] == nil {
            r[Pair(left: m.0, right: m.1)] = i
        }
        ranks = r
        unknownId = unknownToken.flatMap { vocab[$0] }
    }

    /// Token ids for one pre-tokenised word (already mapped to byte-level characters).
    public func encode(word: [Character]) -> [Int] {
        let key = String(word)
        if let hit = cacheLock.withLock({ cache[key] }) { return hit }
        if ignoreMerges, endOfWordSuffix.isEmpty, let id = vocab[key] { return [id] }
        var symbols = initialSymbols(word)
        while symbols.count > 1 {
            var best: (rank: Int, index: Int)?
            for i in 0..<(symbols.count - 1) {
                if let r = ranks[Pair(left: symbols[i], right: symbols[i + 1])], r < (best?.rank ?? Int.max) {
                    best = (r, i)
                }
            }
            guard let (_, index) = best else { break }
            let left = symbols[index], right = symbols[index + 1]
            var merged: [String] = []
            merged.reserveCapacity(symbols.count)
            var i = 0
            while i < symbols.count {
                if i + 1 < symbols.count && symbols[i] == left && symbols[i + 1] == right {
                    merged.append(left + right)
                    i += 2
                } else {
                    merged.append(symbols[i])
                    i += 1
                }
            }
            symbols = merged
        }
        var ids: [Int] = []
        var previousUnknown = false
        for symbol in symbols {
            if let id = vocab[symbol] {
                ids.append(id)
                previousUnknown = false
            } else if let unk = unknownId, !(fuseUnknown && previousUnknown) {
                ids.append(unk)
                previousUnknown = true
            }
        }
        cacheLock.withLock { if cache.count < 100_000 { cache[key] = ids } }
        return ids
    }

    /// One symbol per character; with byte fallback a character outside the vocabulary becomes its
    /// UTF-8 bytes as `<0xXX>` tokens (when they all exist).
    private func initialSymbols(_ word: [Character]) -> [String] {
        var symbols = word.map(String.init)
        if !endOfWordSuffix.isEmpty, !symbols.isEmpty { symbols[symbols.count - 1] += endOfWordSuffix }
        guard byteFallback else { return symbols }
        return symbols.flatMap { s -> [String] in
            if vocab[s] != nil { return [s] }
            let bytes = s.utf8.map { String(format: "<0x%02X>", $0) }
            return bytes.allSatisfy { vocab[$0] != nil } ? bytes : [s]
        }
    }
}
