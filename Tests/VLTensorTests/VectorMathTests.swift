import CKernels
import Foundation
import XCTest
@testable import VLTensor

/// The vectorised C kernels against libm over a wide range, including the edges.
final class VectorMathTests: XCTestCase {
    let inputs: [Float] =
        stride(from: -30, through: 30, by: 0.0137).map { Float($0) }
        + [-1e-7, 0, 1e-7, -80, 80, -87, 88, -100, 100, -.infinity, .infinity]

    func check(
        _ name: String, _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
        _ reference: (Double) -> Double, relTol: Double = 1e-6, absTol: Double = 2e-7
    ) {
        var out = [Float](repeating: 0, count: inputs.count)
        inputs.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { y in kernel(x.baseAddress!, y.baseAddress!, x.count) }
        }
        for (x, y) in zip(inputs, out) {
            let r = Double(Float(reference(Double(x))))  // the f32 result libm would give
            if r.isNaN || y.isNaN {
                XCTAssertTrue(r.isNaN && y.isNaN, "\(name)(\(x)) = \(y), libm \(r)")
                continue
            }
            if r.isInfinite || y.isInfinite {
                XCTAssertEqual(Double(y), r, "\(name)(\(x))")
                continue
            }
            XCTAssertLessThanOrEqual(abs(Double(y) - r), absTol + relTol * abs(r), "\(name)(\(x)) = \(y), libm \(r)")
        }
    }

    func testKernelsAgreeWithLibm() {
        check(
            "exp", { ck_exp($0, $1, $2) }, { Foundation.exp($0) < 1e-38 ? 0 : Foundation.exp($0) }, relTol: 3e-7,
            absTol: 1e-38)
        check("sigmoid", { ck_sigmoid($0, $1, $2) }, { 1 / (1 + Foundation.exp(-$0)) })
        check("tanh", { ck_tanh($0, $1, $2) }, { Foundation.tanh($0) })
        check("silu", { ck_silu($0, $1, $2) }, { $0 / (1 + Foundation.exp(-$0)) }, absTol: 1e-6)
        check("quick_gelu", { ck_quick_gelu($0, $1, $2) }, { $0 / (1 + Foundation.exp(-1.702 * $0)) }, absTol: 1e-6)
        check("gelu", { ck_gelu_erf($0, $1, $2) }, { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }, absTol: 1e-6)
        check(
            "gelu_tanh", { ck_gelu_tanh($0, $1, $2) },
            { x in
                0.5 * x * (1 + Foundation.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
            }, absTol: 1e-6)
    }

    func testNaNPropagates() {
        var y: [Float] = [0]
        ck_exp([Float.nan], &y, 1)
        XCTAssertTrue(y[0].isNaN)
    }
}
