import XCTest
@testable import VLTensor
import VLTestSupport

final class GradCheckTests: XCTestCase {
    var rng = RandomGenerator(seed: 1)
    func randn(_ s: [Int]) -> Tensor { Tensor.randn(s, rng: &rng) }
    func positive(_ s: [Int]) -> Tensor { Tensor.rand(s, low: 0.5, high: 2, rng: &rng) }

    func testCheckerRejectsAWrongGradient() {
        let x = randn([3])
        let problem = gradCheckProblem([x], eps: 3e-3, tol: 2e-2) { t in
            record(t[0].detach() * t[0].detach(), [t[0]]) { g in [g] }  // true gradient is 2x·g
        }
        XCTAssertNotNil(problem)
    }

    func testBinaryBroadcasting() {
        gradCheck([randn([2, 3, 4]), randn([3, 1])]) { $0[0] + $0[1] }
        gradCheck([randn([4]), randn([2, 3, 4])]) { $0[0] - $0[1] }
        gradCheck([randn([2, 1, 4]), randn([3, 1])]) { $0[0] * $0[1] }
        gradCheck([randn([2, 3]), positive([3])]) { $0[0] / $0[1] }
        gradCheck([randn([2, 3]), randn([2, 3])]) { $0[0].maximum($0[1]) }
        gradCheck([positive([2, 3]), randn([3])]) { $0[0].pow($0[1]) }
        gradCheck([randn([3, 2])]) { 2 / ($0[0] * $0[0] + 1) - 3 * $0[0] }
    }

    func testUnary() {
        gradCheck([randn([2, 5])]) { -$0[0] }
        gradCheck([randn([2, 5])]) { $0[0].exp() }
        gradCheck([positive([2, 5])]) { $0[0].log() }
        gradCheck([positive([2, 5])]) { $0[0].sqrt() }
        gradCheck([positive([2, 5])]) { $0[0].rsqrt() }
        gradCheck([positive([2, 5])]) { $0[0].pow(3) }
        gradCheck([positive([2, 5])]) { $0[0].pow(0.5) }
        gradCheck([positive([2, 5]) - 1.25]) { $0[0].abs() }
        gradCheck([randn([2, 5])]) { $0[0].tanh() }
        gradCheck([randn([2, 5])]) { $0[0].sigmoid() }
        gradCheck([positive([2, 5]) - 1.25]) { $0[0].relu() }
        gradCheck([randn([2, 5])]) { $0[0].gelu() }
        gradCheck([randn([2, 5])]) { $0[0].geluTanh() }
        gradCheck([randn([2, 5])]) { $0[0].quickGelu() }
        gradCheck([randn([2, 5])]) { $0[0].silu() }
        gradCheck([Tensor([-2, -0.3, 0.1, 0.4, 1.5, 3])]) { $0[0].clamp(min: -0.5, max: 0.7) }
        let mask = Tensor([1, 0, 0, 1, 0], shape: [1, 5])
        gradCheck([randn([2, 5])]) { $0[0].maskedFill(mask, -3.5) }
        let cond = Tensor([1, 0, 1], shape: [3])
        gradCheck([randn([2, 3]), randn([2, 3])]) { `where`(cond, $0[0], $0[1]) }
    }

    func testReductions() {
        gradCheck([randn([2, 3, 4])]) { $0[0].sum(axes: [1], keepDim: false) }
        gradCheck([randn([2, 3, 4])]) { $0[0].sum(axes: [0, 2], keepDim: true) }
        gradCheck([randn([2, 3, 4])]) { $0[0].mean(axes: [2]) }
        gradCheck([randn([2, 3, 4])]) { $0[0].max(1) }
        gradCheck([randn([2, 3, 4])]) { $0[0].min(2, keepDim: true) }
        gradCheck([randn([2, 3, 4])]) { $0[0].logsumexp(-1) }
        gradCheck([randn([2, 3, 4])]) { $0[0].variance(axes: [1]) }
        gradCheck([randn([2, 3, 4])]) { $0[0].variance(axes: [2], correction: 0) }
        gradCheck([randn([2, 3, 4])]) { $0[0].norm(axes: [2]) }
        gradCheck([randn([2, 3, 4]) + 0.05]) { $0[0].norm(p: 1, axes: [1]) }
    }

    func testShapeOps() {
        gradCheck([randn([2, 3, 4])]) { $0[0].reshape([4, 6]) }
        gradCheck([randn([2, 3, 4])]) { $0[0].permute([2, 0, 1]) * 1 }
        gradCheck([randn([2, 3, 4])]) { $0[0].transpose(0, 2).reshape([-1]) }
        gradCheck([randn([2, 5, 4])]) { $0[0].narrow(1, start: 1, length: 3) }
        gradCheck([randn([2, 5, 4])]) { $0[0].indexSelect(1, [4, 0, 4]) }
        let idx = Tensor(ints: [0, 2, 1, 1, 0, 0], shape: [2, 3])
        gradCheck([randn([2, 4])]) { $0[0].gather(1, idx) }
        gradCheck([randn([2, 3]), randn([2, 1]), randn([2, 2])]) { cat($0, dim: 1) }
        gradCheck([randn([2, 3]), randn([2, 3])]) { stack($0, dim: 1) }
        gradCheck([randn([2, 6])]) { x in
            let parts = x[0].split(sizes: [2, 4], dim: 1)
            return cat([parts[1] * 2, parts[0]], dim: 1)
        }
        gradCheck([randn([3, 1])]) { $0[0].expand([2, 3, 4]) }
        gradCheck([randn([3, 1])]) { $0[0].unsqueeze(0).squeeze(2) }
        gradCheck([randn([2, 3])]) { $0[0].select(1, 2) }
    }

    func testMatmulAndLinear() {
        gradCheck([randn([3, 4]), randn([4, 5])]) { matmul($0[0], $0[1]) }
        gradCheck([randn([2, 3, 4]), randn([4, 5])]) { matmul($0[0], $0[1]) }
        gradCheck([randn([2, 1, 3, 4]), randn([5, 4, 2])]) { matmul($0[0], $0[1]) }
        gradCheck([randn([4]), randn([4, 5])]) { matmul($0[0], $0[1]) }
        gradCheck([randn([3, 4]), randn([5, 4])]) { matmul($0[0], $0[1].mT) }
        gradCheck([randn([2, 3, 4]), randn([5, 4]), randn([5])]) { linear($0[0], $0[1], $0[2]) }
        gradCheck([randn([3, 4]), randn([5, 4])]) { linear($0[0], $0[1]) }
    }

    func testNNOps() {
        gradCheck([randn([3, 5])]) { $0[0].softmax(-1) }
        gradCheck([randn([3, 5])]) { $0[0].softmax(0) }
        gradCheck([randn([3, 5])]) { $0[0].logSoftmax(-1) }
        gradCheck([randn([2, 3, 6]), randn([6]), randn([6])]) {
            layerNorm($0[0], weight: $0[1], bias: $0[2], eps: 1e-5)
        }
        gradCheck([randn([2, 3, 6]), randn([6])]) { rmsNorm($0[0], weight: $0[1], eps: 1e-6) }
        let ids = Tensor(ints: [1, 3, 3, 0, 9, 2], shape: [2, 3])
        gradCheck([randn([10, 4])]) { embedding(ids, $0[0]) }
        let labels = Tensor(ints: [1, 0, -100, 4, 2, 2])
        gradCheck([randn([6, 5])]) { crossEntropy($0[0], labels) }
        gradCheck([randn([6, 5])]) { crossEntropy($0[0], labels, labelSmoothing: 0.1) }
        gradCheck([randn([2, 3]), randn([2, 3])]) { mseLoss($0[0], $0[1]) }
        gradCheck([randn([3, 4]), randn([3, 4])]) { cosineSimilarity($0[0], $0[1]) }
        gradCheck([randn([3, 4])]) { $0[0].l2Normalized() }
    }

    func testConv2d() {
        gradCheck([randn([2, 3, 5, 5]), randn([4, 3, 3, 3]), randn([4])], tol: 3e-2) {
            conv2d($0[0], $0[1], bias: $0[2], stride: 1, padding: 1)
        }
        gradCheck([randn([1, 2, 6, 6]), randn([3, 2, 3, 3])], tol: 3e-2) { conv2d($0[0], $0[1], stride: 2) }
        gradCheck([randn([1, 3, 8, 8]), randn([4, 3, 4, 4])], tol: 3e-2) { conv2d($0[0], $0[1], stride: 4) }
    }

    func testAttention() {
        gradCheck([randn([1, 2, 3, 4]), randn([1, 2, 5, 4]), randn([1, 2, 5, 4])]) {
            scaledDotProductAttention($0[0], $0[1], $0[2])
        }
        gradCheck([randn([2, 2, 4, 4]), randn([2, 2, 4, 4]), randn([2, 2, 4, 4])]) {
            scaledDotProductAttention($0[0], $0[1], $0[2], causal: true)
        }
        let pad = Tensor([1, 1, 0, 1, 1, 1, 1, 0, 0, 1], shape: [2, 5])
        let additive = randn([2, 1, 3, 5])
        gradCheck([randn([2, 4, 3, 4]), randn([2, 2, 5, 4]), randn([2, 2, 5, 4])]) {
            scaledDotProductAttention($0[0], $0[1], $0[2], mask: additive, keyPadding: pad)
        }
        gradCheck([randn([1, 2, 2, 4]), randn([1, 2, 5, 4]), randn([1, 2, 5, 4])]) {
            scaledDotProductAttention($0[0], $0[1], $0[2], causal: true)
        }
    }

    func testRope() {
        let inv = ropeInverseFrequencies(headDim: 8, theta: 10000)
        gradCheck([randn([2, 3, 5, 8])]) {
            applyRotaryEmbedding($0[0], positions: [3, 4, 5, 6, 7], inverseFrequencies: inv)
        }
    }
}
