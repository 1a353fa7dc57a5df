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
}
