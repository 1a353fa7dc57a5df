import Foundation
import VLTensor

/// How the next token is chosen, with transformers' semantics and order: repetition penalty,
/// then temperature, top-k and top-p; temperature 0 means greedy.
public struct SamplingParameters: Equatable {
    public var temperature: Float = 0
    public var topK: Int = 0  // 0: off
    public var topP: Float = 1  // 1: off
    public var repetitionPenalty: Float = 1  // 1: off
    public var seed: UInt64 = 0

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, repetitionPenalty: Float = 1, seed: UInt64 = 0)
    {
        (self.temperature, self.topK, self.topP, self.repetitionPenalty, self.seed) = (
            temperature, topK, topP, repetitionPenalty, seed
        )
    }
}

/// Picks tokens from logits; owns its random generator so a seed reproduces a run.
public struct Sampler {
    public let parameters: SamplingParameters
    private var rng: RandomGenerator

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        rng = RandomGenerator(seed: parameters.seed)
    }

    /// The next token for one row of logits, given the tokens seen so far (prompt + generated).
    public mutating func next(logits row: [Float], history: [Int]) -> Int {
        var scores = row
        applyRepetitionPenalty(&scores, history)
        if parameters.temperature <= 0 { return argmax(scores) }
        for i in scores.indices { scores[i] /= parameters.temperature }
        let candidates = filteredCandidates(scores)
        return draw(from: candidates)
    }

    private func applyRepetitionPenalty(_ scores: inout [Float], _ history: [Int]) {
        let p = parameters.repetitionPenalty
        guard p != 1 else { return }
        for t in Set(history) where t >= 0 && t < scores.count {
            scores[t] = scores[t] < 0 ? scores[t] * p : scores[t] / p
        }
    }

    /// Token ids with their probabilities after top-k and top-p, renormalised.
    private func filteredCandidates(_ scores: [Float]) -> [(Int, Float)] {
        var order = scores.indices.sorted { scores[$0] > scores[$1] }
        if parameters.topK > 0 { order = Array(order.prefix(parameters.topK)) }
        let maxScore = scores[order[0]]
        var probs = order.map { Foundation.exp(scores[$0] - maxScore) }
        let total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        if parameters.topP < 1 {
            // Keep the smallest prefix whose mass reaches top_p (at least one token).
            var mass: Float = 0, keep = 0
            while keep < probs.count && (keep == 0 || mass < parameters.topP) {
                mass += probs[keep]
                keep += 1
            }
            order = Array(order.prefix(keep))
            probs = Array(probs.prefix(keep)).map { $0 / mass }
        }
        return Array(zip(order, probs))
    }

    private mutating func draw(from candidates: [(Int, Float)]) -> Int {
        var u = rng.nextFloat()
        for (token, p) in candidates {
            if u < p { return token }
            u -= p
        }
        return candidates.last!.0
    }

    private func argmax(_ v: [Float]) -> Int {
        var best = 0
        for i in 1..<v.count where v[i] > v[best] { best = i }
        return best
    }
}
