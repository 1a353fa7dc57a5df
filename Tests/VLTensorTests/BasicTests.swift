import XCTest
@testable import VLTensor

final class BasicTests: XCTestCase {
    func testBroadcastAddAndGrad() {
        let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let b = Tensor([10, 20, 30], shape: [3])
        a.requiresGrad = true
        b.requiresGrad = true
        let y = (a * b + a).sum()
        XCTAssertEqual(y.item(), 481)  // Σ a·b = 460, Σ a = 21
        y.backward()
        XCTAssertEqual(a.grad!.toArray(), [11, 21, 31, 11, 21, 31])
        XCTAssertEqual(b.grad!.toArray(), [5, 7, 9])
    }

    /// Sizes large enough for the parallel, vectorised paths: arithmetic in every broadcast form
    /// (same shape, a scalar on either side, rows against a vector, a column against rows) and
    /// sums over leading axes with few columns (a bias gradient), against plain loops.
    func testLargeArithmeticAndLeadingAxisSums() {
        var rng = RandomGenerator(seed: 5)
        let (rows, cols) = (3000, 40)
        let a = Tensor.randn([rows, cols], rng: &rng), b = Tensor.randn([rows, cols], rng: &rng)
        let v = Tensor.randn([cols], rng: &rng), column = Tensor.randn([rows, 1], rng: &rng)
        let av = a.toArray(), bv = b.toArray(), vv = v.toArray(), cv = column.toArray()
        func check(_ t: Tensor, _ want: (Int, Int) -> Float, _ what: String) {
            let got = t.toArray()
            XCTAssertEqual(t.shape, [rows, cols], what)
            for i in 0..<rows {
                for j in 0..<cols where abs(got[i * cols + j] - want(i, j)) > 1e-5 * (1 + abs(want(i, j))) {
                    XCTFail("\(what) [\(i), \(j)]: \(got[i * cols + j]) vs \(want(i, j))"); return
                }
            }
        }
        check(a + b, { av[$0 * cols + $1] + bv[$0 * cols + $1] }, "a + b")
        check(a - b, { av[$0 * cols + $1] - bv[$0 * cols + $1] }, "a - b")
        check(a * b, { av[$0 * cols + $1] * bv[$0 * cols + $1] }, "a * b")
        check(a / b, { av[$0 * cols + $1] / bv[$0 * cols + $1] }, "a / b")
        check(a - v, { av[$0 * cols + $1] - vv[$1] }, "rows - vector")
        check(v / a, { vv[$1] / av[$0 * cols + $1] }, "vector / rows")
        check(a * column, { av[$0 * cols + $1] * cv[$0] }, "rows * column")
        check(a * 3 + 1, { av[$0 * cols + $1] * 3 + 1 }, "a * 3 + 1")
        check(-a, { -av[$0 * cols + $1] }, "-a")
        check(a * Tensor.scalar(2), { av[$0 * cols + $1] * 2 }, "a * scalar tensor")
        check(Tensor.scalar(2) - a, { 2 - av[$0 * cols + $1] }, "scalar tensor - a")
        // A transposed operand: the inner step is not 0 or 1.
        let bt = Tensor.randn([cols, rows], rng: &rng), btv = bt.toArray()
        check(a + bt.transpose(0, 1), { av[$0 * cols + $1] + btv[$1 * rows + $0] }, "a + bᵀ")
        let sums = a.sum(axes: [0]).toArray()
        for j in 0..<cols {
            let want = (0..<rows).reduce(0.0) { $0 + Double(av[$1 * cols + j]) }
            XCTAssertEqual(Double(sums[j]), want, accuracy: 1e-3, "column \(j)")
        }
        let kept = a.reshape([30, 100, cols]).sum(axes: [0, 1], keepDim: true)
        XCTAssertEqual(kept.shape, [1, 1, cols])
        XCTAssertEqual(kept.toArray(), sums)
    }
}
