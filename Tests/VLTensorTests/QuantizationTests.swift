import XCTest
@testable import VLTensor
import CKernels

/// Block-quantised weights: the rounding stays within its bound, and the GEMV (one row) and
/// dequantising GEMM (many rows) compute exactly the product with the dequantised weights.
final class QuantizationTests: XCTestCase {
    func testRoundingBoundsAndProducts() throws {
        var rng = RandomGenerator(seed: 21)
        // k = 800 is packed in two K blocks of 400 (f32 GEMM): the second starts inside a quantisation block.
        // k = 1056 is 33 blocks: the int8 GEMM's 16-block ranges end on a partial one; n = 33 a partial panel.
        // k = 96, 320, 800, 1056 end each q4 row in a 64- and/or 32-weight group after the 128-weight ones.
        // Every kernel path this CPU has: VNNI, AVX-512 without VNNI, portable C.
        defer { ck_quant_limit_isa(2) }
        for level in [2, 1, 0] {
            ck_quant_limit_isa(Int32(level))
            for (n, k) in [(70, 96), (40, 800), (33, 1056), (20, 320)] { try checkFormats(n: n, k: k, rng: &rng) }
        }
    }

    func checkFormats(n: Int, k: Int, rng: inout RandomGenerator) throws {
        let w = Tensor.randn([n, k], rng: &rng)
        // q8: half a step of amax/127. q4 (as llama.cpp's q4_0, the largest magnitude maps to −8): a value of
        // the other sign can be clipped from +8 to +7 steps, so up to a whole step of amax/8. The scale is
        // stored as a half (relative error ≤ 2⁻¹¹), which moves q·scale by at most amax · 2⁻¹¹ more.
        let halfRounding = Float(1) / 2048
        for (format, bound) in [(QuantizationFormat.q8, Float(0.5 / 127) + halfRounding), (.q4, 1 / 8 + halfRounding)] {
            let q = QuantizedMatrix(w, format: format)!
            let back = q.dequantized()
            let wv = w.toArray(), bv = back.toArray()
            for j in 0..<n {
                for b in 0..<(k / 32) {
                    let block = (0..<32).map { j * k + b * 32 + $0 }
                    let amax = block.map { abs(wv[$0]) }.max()!
                    let err = block.map { abs(wv[$0] - bv[$0]) }.max()!
                    XCTAssertLessThanOrEqual(err, amax * bound * 1.0001 + 1e-7, "\(format) row \(j) block \(b)")
                }
            }
            for m in [1, 5, 37] {
                let x = Tensor.randn([m, k], rng: &rng), bias = Tensor.randn([n], rng: &rng)
                let got = q.linear(x, bias: bias).toArray()
                let want = noGrad { linear(x, back, bias) }.toArray()
                // With AVX512-VNNI x is quantised too, per 32-value block (GEMV and int8 GEMM): each term is
                // then off by at most half an activation step times |ŵ|. Without it products are exact f32.
                let xv = x.toArray()
                for i in 0..<m {
                    for j in 0..<n {
                        var bound: Float = 1e-4
                        if ck_has_qgemm() != 0 {
                            for b in 0..<(k / 32) {
                                let step = (0..<32).map { abs(xv[i * k + b * 32 + $0]) }.max()! / 127
                                bound += (0..<32).map { abs(bv[j * k + b * 32 + $0]) }.reduce(0, +) * step * 0.5 * 1.001
                            }
                        }
                        XCTAssertLessThanOrEqual(
                            abs(got[i * n + j] - want[i * n + j]), bound, "\(format) m=\(m) [\(i),\(j)]")
                    }
                }
            }
        }
        XCTAssertNil(QuantizedMatrix(Tensor.zeros([4, 30]), format: .q8), "k must be a multiple of 32")
    }

    /// Several matrices on one input (q/k/v while decoding): one pass over all their rows gives what
    /// each matrix gives alone, with and without biases, for one row and for several.
    func testSeveralMatricesOnOneInputMatchEachAlone() {
        var rng = RandomGenerator(seed: 5)
        for format in QuantizationFormat.allCases {
            // 700 rows are cut into pieces that do not line up with the matrices' ends.
            let matrices = [700, 48, 16].map { QuantizedMatrix(Tensor.randn([$0, 320], rng: &rng), format: format)! }
            let biases: [Tensor?] = [Tensor.randn([700], rng: &rng), nil, Tensor.randn([16], rng: &rng)]
            for m in [1, 3] {
                let x = Tensor.randn([m, 320], rng: &rng)
                let together = QuantizedMatrix.linear(matrices, x, biases: biases)
                for i in 0..<3 {
                    let alone = matrices[i].linear(x, bias: biases[i])
                    XCTAssertEqual(together[i].shape, [m, matrices[i].n])
                    XCTAssertEqual(together[i].toArray(), alone.toArray(), "\(format) m=\(m) matrix \(i)")
                }
            }
        }
    }
}
