import Foundation

/// Corpus CIDEr-D exactly as pycocoevalcap's `Cider().compute_score` (n = 4, σ = 6): tf-idf vectors
/// of 1- to 4-grams with document frequencies over the corpus's reference sets, the candidate's
/// weights clipped by the reference's, a Gaussian penalty on the length difference, the mean over n
/// and over references, times 10, averaged over images. Like the reference code, the "length" in
/// the penalty is the number of bigrams, and a corpus of one image scores 0 (its idf is log 1 = 0).
public func cider(candidates: [[String]], references: [[[String]]]) -> Double {
    precondition(
        candidates.count == references.count, "\(candidates.count) candidates for \(references.count) reference sets")
    precondition(references.allSatisfy { !$0.isEmpty }, "every candidate needs at least one reference")
    guard !candidates.isEmpty else { return 0 }
    let corpus = CIDErCorpus(references: references)
    let scores = zip(candidates, references).map { corpus.score(candidate: $0, references: $1) }
    return scores.reduce(0, +) / Double(scores.count)
}

private struct CIDErCorpus {
    static let maxOrder = 4
    static let sigma = 6.0
    let referenceCounts: [[NGramCounts]]
    /// For each n-gram, the number of images whose references contain it.
    let documentFrequency: [[String]: Double]
    let logImageCount: Double

    init(references: [[[String]]]) {
        referenceCounts = references.map { $0.map { NGramCounts($0, maxOrder: Self.maxOrder) } }
        var frequency: [[String]: Double] = [:]
        for refs in referenceCounts {
            for gram in Set(refs.flatMap(\.order)) { frequency[gram, default: 0] += 1 }
        }
        documentFrequency = frequency
        logImageCount = log(Double(references.count))
    }

    func score(candidate: [String], references: [[String]]) -> Double {
        let hypothesis = vector(NGramCounts(candidate, maxOrder: Self.maxOrder))
        var perOrder = Array(repeating: 0.0, count: Self.maxOrder)
        for reference in references {
            let similarity = similarity(hypothesis, vector(NGramCounts(reference, maxOrder: Self.maxOrder)))
            for n in 0..<Self.maxOrder { perOrder[n] += similarity[n] }
        }
        let mean = perOrder.reduce(0, +) / Double(Self.maxOrder)
        return mean / Double(references.count) * 10
    }

    /// A sentence's tf-idf weights per n-gram order, their norms, and its bigram count.
    struct TFIDF {
        var weights: [[[String]: Double]] = Array(repeating: [:], count: CIDErCorpus.maxOrder)
        var grams: [[[String]]] = Array(repeating: [], count: CIDErCorpus.maxOrder)
        var norms: [Double] = Array(repeating: 0, count: CIDErCorpus.maxOrder)
        var length = 0
    }

    func vector(_ counts: NGramCounts) -> TFIDF {
        var v = TFIDF()
        for gram in counts.order {
            let n = gram.count - 1
            let idf = logImageCount - log(max(1.0, documentFrequency[gram] ?? 0))
            let weight = Double(counts[gram]) * idf
            v.weights[n][gram] = weight
            v.grams[n].append(gram)
            v.norms[n] += weight * weight
            if n == 1 { v.length += counts[gram] }
        }
        v.norms = v.norms.map { $0.squareRoot() }
        return v
    }

    func similarity(_ hypothesis: TFIDF, _ reference: TFIDF) -> [Double] {
        let delta = Double(hypothesis.length - reference.length)
        let penalty = pow(M_E, -(delta * delta) / (2 * Self.sigma * Self.sigma))
        return (0..<Self.maxOrder).map { n in
            var value = 0.0
            for gram in hypothesis.grams[n] {
                let r = reference.weights[n][gram] ?? 0
                value += min(hypothesis.weights[n][gram]!, r) * r
            }
            if hypothesis.norms[n] != 0 && reference.norms[n] != 0 {
                value /= hypothesis.norms[n] * reference.norms[n]
            }
            return value * penalty
        }
    }
}
