import Foundation

/// Byte-pair encoding over a vocabulary and ranked merges, as the `tokenizers` BPE model: a word
/// starts as its characters (the last one carrying `endOfWordSuffix`, e.g. CLIP's "</w>") and the
/// adjacent pair of lowest rank is merged until none is left. Results are cached per word.
public final class BytePairEncoder {
    public let vocab: [String: Int]
    public let idToToken: [Int: String]
    public let endOfWordSuffix: String
    private let ranks: [Pair: Int]
    private var cache: [String: [Int]] = [:]
    private let cacheLock = NSLock()
    private let unknownId: Int?

    struct Pair: Hashable {
        let left: String
        let right: String
    }

    public init(vocab: [String: Int], merges: [(String, String)], endOfWordSuffix: String = "", unknownToken: String? = nil) {
        self.vocab = vocab
        idToToken = Dictionary(vocab.map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        self.endOfWordSuffix = endOfWordSuffix
        var r: [Pair: Int] = [:]
        r.reserveCapacity(merges.count)
        for (i, m) in merges.enumerated() where r[Pair(left: m.0, right: m.1)] == nil { r[Pair(left: m.0, right: m.1)] = i }
        ranks = r
        unknownId = unknownToken.flatMap { vocab[$0] }
    }

    /// Token ids for one pre-tokenised word (already mapped to byte-level characters).
    public func encode(word: [Character]) -> [Int] {
        let key = String(word)
        if let hit = cacheLock.withLock({ cache[key] }) { return hit }
        var symbols = word.map(String.init)
        if !symbols.isEmpty { symbols[symbols.count - 1] += endOfWordSuffix }
        while symbols.count > 1 {
            var best: (rank: Int, index: Int)?
            for i in 0..<(symbols.count - 1) {
                if let r = ranks[Pair(left: symbols[i], right: symbols[i + 1])], r < (best?.rank ?? Int.max) { best = (r, i) }
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
        let ids = symbols.compactMap { vocab[$0] ?? unknownId }
        cacheLock.withLock { if cache.count < 100_000 { cache[key] = ids } }
        return ids
    }
}
