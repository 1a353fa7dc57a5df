import Foundation
import XCTest
import VLIO
@testable import VLTensor

/// Every op against torch: outputs and autograd gradients (computed by torch in float64 from the
/// same float32 inputs) from tools/fixtures/make_op_fixtures.py.
final class OpParityTests: XCTestCase {
    struct Case: Decodable {
        let `case`: String
        let op: String
        let params: [String: Param]
        let inputs: Int
        let grads: [String]
    }

    enum Param: Decodable {
        case number(Double), bool(Bool), list([Int])
        init(from d: Decoder) throws {
            let c = try d.singleValueContainer()
            if let b = try? c.decode(Bool.self) {
                self = .bool(b)
            } else if let n = try? c.decode(Double.self) {
                self = .number(n)
            } else {
                self = .list(try c.decode([Int].self))
            }
        }
        var float: Float { if case .number(let n) = self { return Float(n) }; return 0 }
        var int: Int { if case .number(let n) = self { return Int(n) }; return 0 }
        var ints: [Int] { if case .list(let l) = self { return l }; return [] }
        var flag: Bool { if case .bool(let b) = self { return b }; return false }
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/ops")

    func apply(_ c: Case, _ x: [Tensor]) -> Tensor {
        let p = c.params
        switch c.op {
        case "add": return x[0] + x[1]
        case "sub": return x[0] - x[1]
        case "mul": return x[0] * x[1]
        case "div": return x[0] / x[1]
        case "maximum": return x[0].maximum(x[1])
        case "pow_tensor": return x[0].pow(x[1])
        case "neg": return -x[0]
        case "exp": return x[0].exp()
        case "log": return x[0].log()
        case "sqrt": return x[0].sqrt()
        case "rsqrt": return x[0].rsqrt()
        case "tanh": return x[0].tanh()
        case "sigmoid": return x[0].sigmoid()
        case "relu": return x[0].relu()
        case "abs": return x[0].abs()
        case "gelu": return x[0].gelu()
        case "gelu_tanh": return x[0].geluTanh()
        case "quick_gelu": return x[0].quickGelu()
        case "silu": return x[0].silu()
        case "pow_scalar": return x[0].pow(p["exponent"]!.float)
        case "clamp": return x[0].clamp(min: p["min"]!.float, max: p["max"]!.float)
        case "masked_fill": return x[0].maskedFill(x[1], p["value"]!.float)
        case "where": return `where`(x[0], x[1], x[2])
        case "sum": return x[0].sum(axes: p["axes"]!.ints, keepDim: p["keepdim"]!.flag)
        case "mean": return x[0].mean(axes: p["axes"]!.ints, keepDim: p["keepdim"]!.flag)
        case "max": return x[0].max(p["axis"]!.int, keepDim: p["keepdim"]?.flag ?? false)
        case "min": return x[0].min(p["axis"]!.int, keepDim: p["keepdim"]?.flag ?? false)
        case "argmax": return x[0].argmax(p["axis"]!.int)
        case "logsumexp": return x[0].logsumexp(p["axis"]!.int)
        case "var": return x[0].variance(axes: p["axes"]!.ints, correction: p["correction"]!.int)
        case "norm": return x[0].norm(p: p["p"]!.float, axes: p["axes"]!.ints)
        case "reshape": return x[0].reshape(p["shape"]!.ints)
        case "permute": return x[0].permute(p["order"]!.ints)
        case "transpose": return x[0].transpose(p["dims"]!.ints[0], p["dims"]!.ints[1])
        case "narrow": return x[0].narrow(p["dim"]!.int, start: p["start"]!.int, length: p["length"]!.int)
        case "index_select": return x[0].indexSelect(p["dim"]!.int, p["indices"]!.ints)
        case "gather": return x[0].gather(p["dim"]!.int, x[1])
        case "cat": return cat(x, dim: p["dim"]!.int)
        case "stack": return stack(x, dim: p["dim"]!.int)
        case "expand": return x[0].expand(p["shape"]!.ints)
        case "matmul": return matmul(x[0], x[1])
        case "linear": return linear(x[0], x[1], x.count > 2 ? x[2] : nil)
        case "softmax": return x[0].softmax(p["dim"]!.int)
        case "log_softmax": return x[0].logSoftmax(p["dim"]!.int)
        case "layer_norm": return layerNorm(x[0], weight: x[1], bias: x[2], eps: p["eps"]!.float)
        case "rms_norm": return rmsNorm(x[0], weight: x[1], eps: p["eps"]!.float)
        case "embedding": return embedding(x[0], x[1])
        case "conv2d":
            return conv2d(
                x[0], x[1], bias: x.count > 2 ? x[2] : nil, stride: p["stride"]!.int, padding: p["padding"]!.int)
        case "cross_entropy": return crossEntropy(x[0], x[1], labelSmoothing: p["smoothing"]!.float)
        case "mse": return mseLoss(x[0], x[1])
        case "cosine_similarity": return cosineSimilarity(x[0], x[1])
        case "l2_normalize": return x[0].l2Normalized()
        case "attention":
            return scaledDotProductAttention(
                x[0], x[1], x[2], causal: p["causal"]?.flag ?? false, mask: x.count > 3 ? x[3] : nil)
        case "rope":
            return applyRotaryEmbedding(
                x[0], positions: x[1].toInts(),
                inverseFrequencies: ropeInverseFrequencies(headDim: x[0].shape[3], theta: p["theta"]!.float))
        default:
            XCTFail("no Swift mapping for op \(c.op)")
            return x[0]
        }
    }

    func maxRelDiff(_ a: Tensor, _ b: Tensor) -> Float {
        let x = a.toArray(), y = b.toArray()
        return zip(x, y).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    }

    func testEveryOpMatchesTorch() throws {
        let cases = try JSONDecoder().decode(
            [Case].self, from: Data(contentsOf: Self.root.appendingPathComponent("manifest.json")))
        XCTAssertGreaterThan(cases.count, 70)
        for c in cases {
            let f = try loadSafetensors(path: Self.root.appendingPathComponent(c.case + ".safetensors").path)
            let inputs = (0..<c.inputs).map { f["in\($0)"]!.clone() }
            let wanted = Set(c.grads)
            for (i, t) in inputs.enumerated() where wanted.contains("grad_in\(i)") { t.requiresGrad = true }
            let out = apply(c, inputs)
            let expected = f["out"]!
            XCTAssertEqual(out.shape, expected.shape, "\(c.case): shape")
            if out.dtype == .i64 {
                XCTAssertEqual(out.toInts(), expected.toInts(), "\(c.case): values")
                continue
            }
            XCTAssertLessThan(maxRelDiff(out, expected), 2e-5, "\(c.case): output")
            guard !c.grads.isEmpty else { continue }
            (out * f["gout"]!).sum().backward()
            for name in c.grads {
                let i = Int(name.dropFirst("grad_in".count))!
                guard let g = inputs[i].grad else {
                    XCTFail("\(c.case): no gradient for input \(i)")
                    continue
                }
                XCTAssertLessThan(maxRelDiff(g, f[name]!), 1e-4, "\(c.case): gradient of input \(i)")
            }
        }
    }
}
