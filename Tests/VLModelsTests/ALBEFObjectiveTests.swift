import Foundation
import XCTest
import VLNN
import VLTensor
@testable import VLModels

/// ALBEF's losses against small explicit computations written out here.
final class ALBEFObjectiveTests: XCTestCase {
    func testContrastiveLossWithQueuesAndDistillation() {
        var rng = RandomGenerator(seed: 1)
        let img = Tensor.randn([2, 3], rng: &rng).l2Normalized(), txt = Tensor.randn([2, 3], rng: &rng).l2Normalized()
        let mImg = Tensor.randn([2, 3], rng: &rng).l2Normalized(),
            mTxt = Tensor.randn([2, 3], rng: &rng).l2Normalized()
        let qImg = Tensor.randn([4, 3], rng: &rng).l2Normalized(),
            qTxt = Tensor.randn([4, 3], rng: &rng).l2Normalized()
        let (temp, alpha): (Float, Float) = (0.07, 0.4)
        let loss = albefContrastiveLoss(
            imageFeatures: img, textFeatures: txt, momentumImage: mImg, momentumText: mTxt,
            imageQueue: qImg, textQueue: qTxt, temperature: temp, alpha: alpha
        ).item()
        // Reference: row i of (a · [mB; qB]ᵀ / t) against α·softmax(mA · [mB; qB]ᵀ / t) + (1 − α)·e_i.
        func rows(_ t: Tensor) -> [[Double]] {
            let v = t.toArray();
            return (0..<t.shape[0]).map { r in (0..<t.shape[1]).map { Double(v[r * t.shape[1] + $0]) } }
        }
        func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map(*).reduce(0, +) }
        func direction(_ a: Tensor, _ ma: Tensor, _ mb: Tensor, _ q: Tensor) -> Double {
            let others = rows(mb) + rows(q)
            var total = 0.0
            for (i, (x, mx)) in zip(rows(a), rows(ma)).enumerated() {
                let logits = others.map { dot(x, $0) / Double(temp) },
                    mlogits = others.map { dot(mx, $0) / Double(temp) }
                let lse = log(logits.map { exp($0) }.reduce(0, +))
                let mmax = mlogits.max()!, msum = mlogits.map { exp($0 - mmax) }.reduce(0, +)
                for j in others.indices {
                    let target = Double(alpha) * exp(mlogits[j] - mmax) / msum + (1 - Double(alpha)) * (i == j ? 1 : 0)
                    total -= target * (logits[j] - lse)
                }
            }
            return total / Double(a.shape[0])
        }
        let expected = (direction(img, mImg, mTxt, qTxt) + direction(txt, mTxt, mImg, qImg)) / 2
        XCTAssertEqual(Double(loss), expected, accuracy: 1e-4 * max(1, abs(expected)))
    }

    /// With caption groups the hard target of a row spreads over every column with its caption
    /// (batch or queue), never treating a repeated caption as a negative of itself.
    func testContrastiveTargetsSpreadOverEveryColumnWithTheSameCaption() {
        var rng = RandomGenerator(seed: 6)
        let img = Tensor.randn([2, 3], rng: &rng).l2Normalized(), txt = Tensor.randn([2, 3], rng: &rng).l2Normalized()
        let mImg = Tensor.randn([2, 3], rng: &rng).l2Normalized(),
            mTxt = Tensor.randn([2, 3], rng: &rng).l2Normalized()
        let qImg = Tensor.randn([3, 3], rng: &rng).l2Normalized(),
            qTxt = Tensor.randn([3, 3], rng: &rng).l2Normalized()
        let groups = [7, 8, 7, -1, 7]  // row 0's caption recurs in queue rows 0 and 2; row 1's nowhere else
        let loss = albefContrastiveLoss(
            imageFeatures: img, textFeatures: txt, momentumImage: mImg, momentumText: mTxt, imageQueue: qImg,
            textQueue: qTxt, temperature: Tensor.scalar(0.1), alpha: 0, groups: groups
        ).item()
        func rows(_ t: Tensor) -> [[Double]] {
            let v = t.toArray();
            return (0..<t.shape[0]).map { r in (0..<t.shape[1]).map { Double(v[r * t.shape[1] + $0]) } }
        }
        func direction(_ a: Tensor, _ columns: [[Double]]) -> Double {
            rows(a).enumerated().map { i, x in
                let logits = columns.map { zip(x, $0).map(*).reduce(0, +) / 0.1 },
                    lse = log(logits.map { exp($0) }.reduce(0, +))
                let positives = columns.indices.filter { groups[$0] == groups[i] }
                return -positives.map { logits[$0] - lse }.reduce(0, +) / Double(positives.count)
            }.reduce(0, +) / 2
        }
        let expected = (direction(img, rows(mTxt) + rows(qTxt)) + direction(txt, rows(mImg) + rows(qImg))) / 2
        XCTAssertEqual(Double(loss), expected, accuracy: 1e-4 * max(1, abs(expected)))
    }

    func testQueueAndMomentumUpdate() {
        var rng = RandomGenerator(seed: 2)
        let queue = FeatureQueue(size: 4, dim: 2, rng: &rng)
        queue.enqueue(Tensor([1, 2, 3, 4], shape: [2, 2]))
        queue.enqueue(Tensor([5, 6, 7, 8], shape: [2, 2]))
        queue.enqueue(Tensor([9, 9, 9, 9], shape: [2, 2]))  // wraps around to the oldest rows
        XCTAssertEqual(queue.features.toArray(), [9, 9, 9, 9, 5, 6, 7, 8])
        let model = Linear(2, 1), momentum = Linear(2, 1)
        try! model.load(stateDict: ["weight": Tensor([1, 1], shape: [1, 2]), "bias": Tensor([0])])
        try! momentum.load(stateDict: ["weight": Tensor([0, 2], shape: [1, 2]), "bias": Tensor([4])])
        momentumUpdate(momentum, from: model, momentum: 0.9)
        XCTAssertEqual(momentum.weight.value.toArray()[0], 0.1, accuracy: 1e-6)
        XCTAssertEqual(momentum.weight.value.toArray()[1], 1.9, accuracy: 1e-6)
        XCTAssertEqual(momentum.bias!.value.toArray()[0], 3.6, accuracy: 1e-6)
    }

    func testHardNegativesFollowSimilarityAndSkipThePositive() {
        var rng = RandomGenerator(seed: 3)
        // Image 0 is far more similar to text 2 than to text 1; the positive (0) is never drawn.
        let sim = Tensor([9, 0, 6, 0, 9, 0, 0, 0, 9], shape: [3, 3])
        var counts = [0, 0, 0]
        for _ in 0..<2000 { counts[sampleHardNegatives(simI2T: sim, simT2I: sim, rng: &rng).textForImage[0]] += 1 }
        XCTAssertEqual(counts[0], 0)
        XCTAssertGreaterThan(counts[2], counts[1] * 20)
    }

    func testMaskingProportions() {
        var rng = RandomGenerator(seed: 4)
        let ids = [101] + [Int](repeating: 7, count: 20_000) + [102]
        let (input, labels) = maskTokens(ids, vocabSize: 1000, maskId: 103, special: [101, 102], rng: &rng)
        XCTAssertEqual(labels.first, -100)
        XCTAssertEqual(labels.last, -100)
        let chosen = labels.indices.filter { labels[$0] != -100 }
        XCTAssertEqual(Double(chosen.count) / 20_000, 0.15, accuracy: 0.01)
        let masked = chosen.filter { input[$0] == 103 }.count, kept = chosen.filter { input[$0] == 7 }.count
        XCTAssertEqual(Double(masked) / Double(chosen.count), 0.8, accuracy: 0.02)
        XCTAssertEqual(Double(kept) / Double(chosen.count), 0.1, accuracy: 0.02)  // (plus rare random draws of 7)
    }

    func testDistilledMaskedLM() {
        var rng = RandomGenerator(seed: 5)
        let logits = Tensor.randn([1, 3, 4], rng: &rng), momentum = Tensor.randn([1, 3, 4], rng: &rng)
        let labels = [-100, 2, 1]
        let loss = distilledMaskedLMLoss(logits: logits, labels: labels, momentumLogits: momentum, alpha: 0.3).item()
        let l = logits.toArray().map(Double.init), m = momentum.toArray().map(Double.init)
        func logSoftmax(_ r: Int, _ v: [Double]) -> [Double] {
            let row = Array(v[(r * 4)..<(r * 4 + 4)]), lse = log(row.map { exp($0) }.reduce(0, +))
            return row.map { $0 - lse }
        }
        var ce = 0.0, distill = 0.0
        for r in [1, 2] {
            ce -= logSoftmax(r, l)[labels[r]]
            let soft = logSoftmax(r, m).map { exp($0) }
            distill -= zip(soft, logSoftmax(r, l)).map(*).reduce(0, +)
        }
        XCTAssertEqual(Double(loss), 0.7 * ce / 2 + 0.3 * distill / 2, accuracy: 1e-5)
    }
}
