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
        for (n, k) in [(70, 96), (40, 800), (33, 1056)] { try checkFormats(n: n, k: k, rng: &rng) }
    }

    func checkFormats(n: Int, k: Int, rng: inout RandomGenerator) throws {
        let w = Tensor.randn([n, k], rng: &rng)
        // q8: half a step of amax/127. q4 (as llama.cpp's q4_0, the largest magnitude maps to −8): a value of
        // the other sign can be clipped from +8 to +7 steps, so up to a whole step of amax/8.
        for (format, bound) in [(QuantizationFormat.q8, Float(0.5 / 127)), (.q4, 1 / 8)] {
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
                                let step = (0..<32).map { abs(xv[b * 32 + $0]) }.max()! / 127
                                bound += (0..<32).map { abs(bv[j * k + b * 32 + $0]) }.reduce(0, +) * step * 0.5 * 1.001
                            }
                        }
                        XCTAssertLessThanOrEqual(abs(got[i * n + j] - want[i * n + j]), bound, "\(format) m=\(m) [\(i),\(j)]")
                    }
                }
            }
        }
        XCTAssertNil(QuantizedMatrix(Tensor.zeros([4, 30]), format: .q8), "k must be a multiple of 32")
    }
}
