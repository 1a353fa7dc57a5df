import Foundation

/// Corpus-level BLEU-1…BLEU-`maxOrder` exactly as pycocoevalcap's `Bleu(4).compute_score` (the COCO
/// caption evaluation): n-gram counts clipped by the maximum count in any one reference, the
/// reference length closest to each candidate's (the shorter one on a tie), counts summed over the
/// corpus before the geometric mean, and its smoothing — 1e-15 added to each clipped count and 1e-9
/// to each candidate n-gram total, so a missing order gives a tiny score rather than a division by zero.
/// `candidates[i]` is the tokenised caption for image i, `references[i]` its reference captions.
public func bleuScores(candidates: [[String]], references: [[[String]]], maxOrder: Int = 4) -> [Double] {
    precondition(
        candidates.count == references.count, "\(candidates.count) candidates for \(references.count) reference sets")
    precondition(references.allSatisfy { !$0.isEmpty }, "every candidate needs at least one reference")
    var totals = BLEUCounts(maxOrder: maxOrder)
    for (candidate, refs) in zip(candidates, references) {
        totals.add(candidate: candidate, references: refs)
    }
    return totals.scores()
}

/// Corpus-level BLEU-4 as pycocoevalcap's `Bleu(4)` reports it (the fourth of its four scores).
public func bleu4(candidates: [[String]], references: [[[String]]]) -> Double {
    bleuScores(candidates: candidates, references: references, maxOrder: 4)[3]
}

/// The corpus totals BLEU is computed from.
private struct BLEUCounts {
    let maxOrder: Int
    var candidateLength = 0
    var referenceLength = 0
    var guessed: [Int]
    var correct: [Int]

    init(maxOrder: Int) {
        self.maxOrder = maxOrder
        guessed = Array(repeating: 0, count: maxOrder)
        correct = Array(repeating: 0, count: maxOrder)
    }

    mutating func add(candidate: [String], references: [[String]]) {
        let grams = NGramCounts(candidate, maxOrder: maxOrder)
        var maxReferenceCounts: [[String]: Int] = [:]
        for reference in references {
            for (gram, count) in NGramCounts(reference, maxOrder: maxOrder).counts {
                maxReferenceCounts[gram] = max(maxReferenceCounts[gram] ?? 0, count)
            }
        }
        for (gram, count) in grams.counts {
            correct[gram.count - 1] += min(maxReferenceCounts[gram] ?? 0, count)
        }
        for n in 1...maxOrder { guessed[n - 1] += max(0, candidate.count - n + 1) }
        candidateLength += candidate.count
        referenceLength += closestLength(to: candidate.count, among: references.map(\.count))
    }

    func scores() -> [Double] {
        let tiny = 1e-15, small = 1e-9
        var product = 1.0
        var scores: [Double] = []
        for n in 0..<maxOrder {
            product *= (Double(correct[n]) + tiny) / (Double(guessed[n]) + small)
            scores.append(pow(product, 1.0 / Double(n + 1)))
        }
        let ratio = (Double(candidateLength) + tiny) / (Double(referenceLength) + small)
        guard ratio < 1 else { return scores }
        let brevityPenalty = exp(1 - 1 / ratio)
        return scores.map { $0 * brevityPenalty }
    }
}

/// The reference length nearest `length`; of two equally near, the shorter (Python's `min` over
/// `(distance, length)` pairs).
private func closestLength(to length: Int, among lengths: [Int]) -> Int {
    lengths.min { (abs($0 - length), $0) < (abs($1 - length), $1) }!
}
