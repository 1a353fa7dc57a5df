import XCTest
@testable import VLTensor

/// The blocked online-softmax kernel against attention composed of plain ops, at sizes that
/// span several query and key blocks.
final class AttentionTests: XCTestCase {
    func reference(_ q: Tensor, _ k: Tensor, _ v: Tensor, causal: Bool, mask: Tensor?) -> Tensor {
        let groups = q.shape[1] / k.shape[1]
        let kx =
            groups == 1
            ? k
            : k.unsqueeze(2).expand([k.shape[0], k.shape[1], groups, k.shape[2], k.shape[3]])
                .reshape([k.shape[0], q.shape[1], k.shape[2], k.shape[3]])
        let vx =
            groups == 1
            ? v
            : v.unsqueeze(2).expand([v.shape[0], v.shape[1], groups, v.shape[2], v.shape[3]])
                .reshape([v.shape[0], q.shape[1], v.shape[2], v.shape[3]])
        var s = matmul(q, kx.mT) * (1 / Float(q.shape[3]).squareRoot())
        if let mask { s = s + mask }
        if causal {
            let (lq, lk) = (q.shape[2], k.shape[2])
            var m = [Float](repeating: 0, count: lq * lk)
            for i in 0..<lq { for j in 0..<lk where j > i + lk - lq { m[i * lk + j] = 1 } }
            s = s.maskedFill(Tensor(m, shape: [lq, lk]), -.infinity)
        }
        return matmul(s.softmax(-1), vx)
    }

    func maxDiff(_ a: Tensor, _ b: Tensor) -> Float { zip(a.toArray(), b.toArray()).map { abs($0 - $1) }.max() ?? 0 }

    func testLongSequencesMatchComposedAttention() {
        var rng = RandomGenerator(seed: 3)
        let q = Tensor.randn([2, 4, 70, 16], rng: &rng)
        let k = Tensor.randn([2, 2, 300, 16], rng: &rng)
        let v = Tensor.randn([2, 2, 300, 8], rng: &rng)
        let mask = Tensor.randn([2, 1, 70, 300], rng: &rng)
        XCTAssertLessThan(
            maxDiff(scaledDotProductAttention(q, k, v), reference(q, k, v, causal: false, mask: nil)), 1e-5)
        XCTAssertLessThan(
            maxDiff(scaledDotProductAttention(q, k, v, causal: true), reference(q, k, v, causal: true, mask: nil)), 1e-5
        )
        XCTAssertLessThan(
            maxDiff(scaledDotProductAttention(q, k, v, mask: mask), reference(q, k, v, causal: false, mask: mask)), 1e-5
        )
    }

    func testPermutedInputsAndGradientsAcrossBlocks() {
        var rng = RandomGenerator(seed: 4)
        // [B, L, H, D] views transposed to [B, H, L, D], as models produce them.
        let q = Tensor.randn([1, 40, 2, 8], rng: &rng), k = Tensor.randn([1, 140, 2, 8], rng: &rng)
        let v = Tensor.randn([1, 140, 2, 8], rng: &rng)
        for t in [q, k, v] { t.requiresGrad = true }
        let w = Tensor.randn([1, 2, 40, 8], rng: &rng)
        (scaledDotProductAttention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), causal: true) * w).sum()
            .backward()
        let fast = [q, k, v].map { $0.grad!.toArray() }
        for t in [q, k, v] { t.grad = nil }
        (reference(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), causal: true, mask: nil) * w).sum()
            .backward()
        for (f, t) in zip(fast, [q, k, v]) {
            let d = zip(f, t.grad!.toArray()).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(d, 1e-5)
        }
    }

    func testFullyMaskedRowGivesZeros() {
        var rng = RandomGenerator(seed: 5)
        let q = Tensor.randn([1, 1, 2, 4], rng: &rng), k = Tensor.randn([1, 1, 3, 4], rng: &rng)
        let v = Tensor.randn([1, 1, 3, 4], rng: &rng)
        let out = scaledDotProductAttention(q, k, v, keyPadding: Tensor([0, 0, 0], shape: [1, 3]))
        XCTAssertEqual(out.toArray(), [Float](repeating: 0, count: 8))
    }

    /// bf16 products (the path models with bf16 weights take): against attention in f32 on the same
    /// bf16-rounded q, k, v, so only the probabilities' rounding (≤ 2⁻⁹ relative) and sums differ.
    /// Odd key count, grouped heads, a tail query block, masks, padding and strided inputs.
    func testBF16ProductsMatchRoundedReference() {
        var rng = RandomGenerator(seed: 6)
        func rounded(_ t: Tensor) -> Tensor { t.to(.bf16).to(.f32) }
        let q = rounded(Tensor.randn([2, 70, 4, 16], rng: &rng)).transpose(1, 2)
        let k = rounded(Tensor.randn([2, 2, 301, 16], rng: &rng)), v = rounded(Tensor.randn([2, 2, 301, 8], rng: &rng))
        let mask = Tensor.randn([2, 1, 70, 301], rng: &rng)
        var keep = [Float](repeating: 1, count: 2 * 301)
        for j in 290..<301 { keep[j] = 0 }
        let padding = Tensor(keep, shape: [2, 301])
        for causal in [false, true] {
            let fast = scaledDotProductAttention(
                q, k, v, causal: causal, mask: mask, keyPadding: padding, bf16Products: true)
            let slow = reference(q, k, v, causal: causal, mask: mask + (1 - padding).reshape([2, 1, 1, 301]) * -1e9)
            XCTAssertLessThan(maxDiff(fast, slow), 1e-2, "causal \(causal)")
        }
        let none = scaledDotProductAttention(q, k, v, keyPadding: Tensor.zeros([2, 301]), bf16Products: true)
        XCTAssertEqual(none.toArray(), [Float](repeating: 0, count: none.count), "rows that see no key give zeros")
    }
}
