import XCTest
import VLTensor
@testable import VLModels

final class SamplerTests: XCTestCase {
    let logits: [Float] = [1.0, 3.0, 2.0, -1.0, 2.9]

    func testGreedyAndTopK1PickTheArgmax() {
        var greedy = Sampler(SamplingParameters())
        XCTAssertEqual(greedy.next(logits: logits, history: []), 1)
        var topk = Sampler(SamplingParameters(temperature: 1.5, topK: 1, seed: 9))
        for _ in 0..<20 { XCTAssertEqual(topk.next(logits: logits, history: []), 1) }
    }

    func testRepetitionPenaltyAsTransformers() {
        // Token 1 (3.0) seen: 3.0 / 2 = 1.5 < 2.9, so token 4 wins; negative scores are multiplied.
        var s = Sampler(SamplingParameters(repetitionPenalty: 2))
        XCTAssertEqual(s.next(logits: logits, history: [1, 1]), 4)
        var t = Sampler(SamplingParameters(repetitionPenalty: 2))
        XCTAssertEqual(t.next(logits: [-1, -0.6, -0.5], history: [2]), 1)  // -0.5 → -1.0
    }

    func testTopPKeepsTheSmallestNucleus() {
        // Softmax of [0, 0, ln 8]: [0.1, 0.1, 0.8]; top_p 0.75 keeps only token 2.
        var s = Sampler(SamplingParameters(temperature: 1, topP: 0.75, seed: 1))
        for _ in 0..<50 { XCTAssertEqual(s.next(logits: [0, 0, Float(log(8.0))], history: []), 2) }
    }

    func testSeededSamplingRepeatsAndFollowsTheDistribution() {
        func run(_ seed: UInt64) -> [Int] {
            var s = Sampler(SamplingParameters(temperature: 1, seed: seed))
            return (0..<4000).map { _ in s.next(logits: [0, Float(log(3.0))], history: []) }
        }
        XCTAssertEqual(run(5), run(5))
        XCTAssertNotEqual(run(5), run(6))
        let share = Double(run(5).filter { $0 == 1 }.count) / 4000
        XCTAssertEqual(share, 0.75, accuracy: 0.03)
    }
}
