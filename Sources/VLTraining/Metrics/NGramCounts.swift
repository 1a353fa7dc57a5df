/// The n-grams of one sentence (orders 1…maxOrder) with their counts, in the order pycocoevalcap's
/// `precook` first meets them (all unigrams left to right, then all bigrams, …), so sums over them
/// run in the same order as the reference implementation's.
struct NGramCounts {
    private(set) var order: [[String]] = []
    private(set) var counts: [[String]: Int] = [:]
    let wordCount: Int

    init(_ words: [String], maxOrder: Int = 4) {
        wordCount = words.count
        for n in 1...maxOrder where words.count >= n {
            for start in 0...(words.count - n) {
                let gram = Array(words[start..<(start + n)])
                if counts[gram] == nil { order.append(gram) }
                counts[gram, default: 0] += 1
            }
        }
    }

    subscript(gram: [String]) -> Int { counts[gram] ?? 0 }
}
