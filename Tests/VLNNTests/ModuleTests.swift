import XCTest
import VLTensor
@testable import VLNN

final class Block: Module {
    let self_attn = MultiHeadAttention(dim: 8, heads: 2)
    let layers: [Linear] = [Linear(8, 8), Linear(8, 4, bias: false)]
    let norm: LayerNorm? = LayerNorm(4)
    let missing: Linear? = nil
}

final class ModuleTests: XCTestCase {
    func testParameterNamesFollowPropertyNames() {
        let names = Block().namedParameters().map(\.0)
        XCTAssertEqual(
            names,
            [
                "self_attn.q_proj.weight", "self_attn.q_proj.bias", "self_attn.k_proj.weight", "self_attn.k_proj.bias",
                "self_attn.v_proj.weight", "self_attn.v_proj.bias", "self_attn.out_proj.weight",
                "self_attn.out_proj.bias",
                "layers.0.weight", "layers.0.bias", "layers.1.weight", "norm.weight", "norm.bias",
            ])
        XCTAssertEqual(Block().parameterCount(), 4 * (8 * 8 + 8) + (8 * 8 + 8) + 8 * 4 + 4 + 4)
    }

    func testStrictLoadingReportsEverythingAtOnce() {
        let model = Block()
        var sd = model.stateDict()
        sd["layers.0.bias"] = nil
        sd["layers.1.weight"] = Tensor.zeros([4, 7])
        sd["extra.weight"] = Tensor.zeros([1])
        XCTAssertThrowsError(try model.load(stateDict: sd)) { error in
            let e = error as! StateDictError
            XCTAssertEqual(e.missing, ["layers.0.bias"])
            XCTAssertEqual(e.unexpected, ["extra.weight"])
            XCTAssertEqual(e.mismatched.map(\.0), ["layers.1.weight"])
            XCTAssertTrue(e.description.contains("shape mismatch for layers.1.weight: model [4, 8], checkpoint [4, 7]"))
        }
    }

    func testLoadingReplacesValuesAndKeepsFreezing() throws {
        let model = Block()
        model.freeze(["self_attn"])
        var sd = model.stateDict()
        sd["norm.weight"] = Tensor.full([4], 3)
        try model.load(stateDict: sd)
        XCTAssertEqual(model.norm!.weight!.value.toArray(), [3, 3, 3, 3])
        XCTAssertFalse(model.self_attn.q_proj!.weight.isTrainable)
        XCTAssertFalse(model.self_attn.q_proj!.weight.value.requiresGrad)
        XCTAssertTrue(model.norm!.weight!.value.requiresGrad)
        XCTAssertEqual(model.parameterCount(trainableOnly: true), model.parameterCount() - 4 * (8 * 8 + 8))
    }

    func testFrozenParametersGetNoGradient() {
        let model = Block()
        model.freeze(["layers.0"])
        let x = Tensor.ones([1, 3, 8])
        let y = model.layers[1](model.layers[0](model.self_attn(x)))
        y.sum().backward()
        XCTAssertNil(model.layers[0].weight.grad)
        XCTAssertNotNil(model.layers[1].weight.grad)
        XCTAssertNotNil(model.self_attn.q_proj!.weight.grad)
    }

    func testFusedAttentionMatchesSeparateProjections() {
        let fused = MultiHeadAttention(dim: 8, heads: 2, fused: true)
        let separate = MultiHeadAttention(dim: 8, heads: 2)
        let w = fused.in_proj_weight!.value.chunk(3, dim: 0), b = fused.in_proj_bias!.value.chunk(3, dim: 0)
        try! separate.load(stateDict: [
            "q_proj.weight": w[0].clone(), "k_proj.weight": w[1].clone(), "v_proj.weight": w[2].clone(),
            "q_proj.bias": b[0].clone(), "k_proj.bias": b[1].clone(), "v_proj.bias": b[2].clone(),
            "out_proj.weight": fused.out_proj.weight.value, "out_proj.bias": fused.out_proj.bias!.value,
        ])
        var rng = RandomGenerator(seed: 8)
        let x = Tensor.randn([2, 5, 8], rng: &rng)
        let d = zip(fused(x, causal: true).toArray(), separate(x, causal: true).toArray()).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(d, 1e-6)
    }

    func testWarmupCosineSchedule() {
        let s = WarmupCosineSchedule(baseLR: 1, warmupSteps: 2, totalSteps: 10)
        XCTAssertEqual(s.learningRate(at: 0), 0)
        XCTAssertEqual(s.learningRate(at: 1), 0.5)
        XCTAssertEqual(s.learningRate(at: 2), 1)
        XCTAssertEqual(s.learningRate(at: 6), 0.5, accuracy: 1e-6)
        XCTAssertEqual(s.learningRate(at: 10), 0, accuracy: 1e-6)
    }

    /// Inference keeps a packed copy of each weight; a training step in between must not leave it stale.
    func testInferenceSeesWeightsChangedByAnOptimiser() {
        let layer = Linear(16, 8)
        var rng = RandomGenerator(seed: 2)
        let x = Tensor.randn([4, 16], rng: &rng)
        _ = noGrad { layer(x) }  // packs the weight
        let opt = SGD(layer.parameters(), lr: 0.5)
        layer(x).sum().backward()
        opt.step()
        let after = noGrad { layer(x) }.toArray()
        let reference = noGrad { matmul(x, layer.weight.value.mT) + layer.bias!.value }.toArray()
        XCTAssertEqual(after, reference)
    }
}
