import XCTest
@testable import VLTensor

/// The packed GEMM and the GEMV paths against a double-precision reference.
final class GemmTests: XCTestCase {
    func reference(
        _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: [Float], _ lda: Int,
        _ b: [Float], _ ldb: Int, _ beta: Float, _ c: [Float], _ ldc: Int
    ) -> [Float] {
        var out = c
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    s += Double(av) * Double(bv)
                }
                let old = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                out[i * ldc + j] = Float(Double(alpha) * s + old)
            }
        }
        return out
    }

    func check(
        _ m: Int, _ n: Int, _ k: Int, transA: Bool, transB: Bool, alpha: Float = 1, beta: Float = 0, pad: Int = 0,
        rng: inout RandomGenerator
    ) {
        let lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad
        let a = (0..<((transA ? k : m) * lda)).map { _ in rng.nextNormal() }
        let b = (0..<((transB ? n : k) * ldb)).map { _ in rng.nextNormal() }
        var c = (0..<(m * ldc)).map { _ in beta == 0 ? Float.nan : rng.nextNormal() }
        let expected = reference(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        c.withUnsafeMutableBufferPointer { cp in
            sgemm(
                transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                beta: beta, c: cp.baseAddress!, ldc: ldc)
        }
        for i in 0..<m {
            for j in 0..<n {
                let got = c[i * ldc + j], want = expected[i * ldc + j]
                if !(abs(got - want) <= 1e-4 * Float(k).squareRoot() + 1e-5 * abs(want)) {
                    XCTFail(
                        "m\(m) n\(n) k\(k) tA\(transA) tB\(transB) α\(alpha) β\(beta) pad\(pad): [\(i),\(j)] \(got) vs \(want)"
                    )
                    return
                }
            }
            // Padding columns of C are never touched.
            for j in n..<ldc where beta == 0 { XCTAssertTrue(c[i * ldc + j].isNaN) }
        }
    }

    func testShapesAndLayouts() {
        var rng = RandomGenerator(seed: 11)
        let sizes = [1, 2, 3, 7, 16, 31, 33, 65, 100]
        for m in sizes {
            for n in [1, 5, 17, 33, 64, 100] {
                for k in [1, 3, 31, 129] {
                    check(m, n, k, transA: (m + n) % 2 == 0, transB: (n + k) % 2 == 1, rng: &rng)
                }
            }
        }
        for tA in [false, true] {
            for tB in [false, true] {
                check(257, 300, 270, transA: tA, transB: tB, rng: &rng)
                check(1, 300, 270, transA: tA, transB: tB, rng: &rng)
                check(20, 33, 17, transA: tA, transB: tB, alpha: 0.5, beta: 2, pad: 3, rng: &rng)
                check(1, 33, 17, transA: tA, transB: tB, alpha: -1.5, beta: 1, pad: 2, rng: &rng)
            }
        }
    }

    func testLargeBlockedProduct() {
        var rng = RandomGenerator(seed: 12)
        check(300, 3100, 520, transA: false, transB: true, rng: &rng)  // crosses NC, KC and MC blocks
    }

    /// bf16 weights: the reference uses the same rounding of the activations and weights to bf16.
    func testBF16WeightProducts() {
        var rng = RandomGenerator(seed: 13)
        // m ≥ 32 streams the weights over 32-row panels: the last panel has 5 and 8 rows (half tiles) or 18.
        for (m, n, k) in [
            (1, 70, 64), (1, 9, 300), (5, 33, 30), (37, 100, 130), (200, 64, 1030), (50, 40, 64), (13, 40, 7),
        ] {
            let a = (0..<(m * k)).map { _ in rng.nextNormal() }
            let w = (0..<(n * k)).map { _ in floatToBF16(rng.nextNormal()) }
            let roundedA = a.map { bf16ToFloat(floatToBF16($0)) }
            var c = [Float](repeating: 1, count: m * n)
            sgemmBF16(m: m, n: n, k: k, a: a, lda: k, w: w, ldw: k, beta: 0.5, c: &c, ldc: n)
            // With a bias instead of beta (Linear's forward): the weight-streaming kernel adds it as it stores.
            let bias = (0..<n).map { Float($0 % 7) - 3 }
            var withBias = [Float](repeating: .nan, count: m * n)
            sgemmBF16(m: m, n: n, k: k, a: a, lda: k, w: w, ldw: k, beta: 0, c: &withBias, ldc: n, bias: bias)
            for i in 0..<m {
                for j in 0..<n {
                    XCTAssertEqual(
                        withBias[i * n + j] - bias[j], c[i * n + j] - 0.5, accuracy: 1e-3 * (1 + abs(c[i * n + j])),
                        "bias m\(m) [\(i),\(j)]")
                }
            }
            for i in 0..<m {
                for j in 0..<n {
                    var exact = 0.0, inexact = 0.0
                    for p in 0..<k {
                        exact += Double(roundedA[i * k + p]) * Double(bf16ToFloat(w[j * k + p]))
                        inexact += abs(Double(a[i * k + p]) * Double(bf16ToFloat(w[j * k + p])))
                    }
                    // m = 1 and odd k keep f32 activations; the bf16 path rounds them (error ≤ 2^-8 each).
                    let tol = 1e-5 * Double(k) + 4e-3 * inexact
                    XCTAssertEqual(Double(c[i * n + j]), exact + 0.5, accuracy: tol, "m\(m) n\(n) k\(k) [\(i),\(j)]")
                }
            }
        }
    }
}
