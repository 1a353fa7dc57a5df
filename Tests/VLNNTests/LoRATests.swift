import XCTest
import VLTensor
@testable import VLNN
import VLTestSupport

/// Two attention blocks and a head: targets for LoRA by name and by pattern.
final class TinyDecoder: Module {
    let layers: [MultiHeadAttention] = [MultiHeadAttention(dim: 8, heads: 2), MultiHeadAttention(dim: 8, heads: 2)]
    let norm = LayerNorm(8)
    let lm_head = Linear(8, 5, bias: false)

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for layer in layers { h = h + layer(h, causal: true) }
        return lm_head(norm(h))
    }
}

final class LoRATests: XCTestCase {
    var rng = RandomGenerator(seed: 3)
    func randn(_ s: [Int]) -> Tensor { Tensor.randn(s, rng: &rng) }
    let qv = LoRAConfig(rank: 2, alpha: 4, targets: .names(["q_proj", "v_proj"]))

    /// B random instead of zero, so the update shows in outputs and merges.
    func randomizeB(_ model: Module) {
        for (_, layer) in model.loraLayers() {
            layer.lora!.lora_B.weight.value = randn(layer.lora!.lora_B.weight.shape) * 0.3
        }
    }

    func maxDiff(_ a: Tensor, _ b: Tensor) -> Float { zip(a.toArray(), b.toArray()).map { abs($0 - $1) }.max()! }

    func testAttachingKeepsTheOutputAndNamesAndFreezesTheBase() throws {
        let model = TinyDecoder()
        let x = randn([2, 3, 8])
        let before = noGrad { model(x) }
        let paths = try model.attachLoRA(qv)
        XCTAssertEqual(paths, ["layers.0.q_proj", "layers.0.v_proj", "layers.1.q_proj", "layers.1.v_proj"])
        XCTAssertEqual(maxDiff(noGrad { model(x) }, before), 0)
        let names = Set(model.namedParameters().map(\.0))
        XCTAssertTrue(
            names.isSuperset(of: [
                "layers.0.q_proj.weight", "layers.0.q_proj.lora_A.weight", "layers.1.v_proj.lora_B.weight",
            ]))
        let trainable = model.namedParameters().filter(\.1.isTrainable).map(\.0)
        XCTAssertEqual(trainable.count, 8)
        XCTAssertTrue(trainable.allSatisfy { $0.contains(".lora_") })
        let lora = model.layers[0].q_proj!.lora!
        XCTAssertEqual(lora.lora_A.weight.shape, [2, 8])
        XCTAssertEqual(lora.lora_B.weight.shape, [8, 2])
        XCTAssertEqual(lora.scale, 2)
        // PEFT's kaiming_uniform(a=√5) on A is U(−1/√in, 1/√in); B is zero.
        XCTAssertLessThanOrEqual(lora.lora_A.weight.value.toArray().map(abs).max()!, 1 / Float(8).squareRoot())
        XCTAssertGreaterThan(lora.lora_A.weight.value.toArray().map(abs).max()!, 0.2)
        XCTAssertEqual(Set(lora.lora_B.weight.value.toArray()), [0])
    }

    func testLoRAGradientCheck() throws {
        for dropout: Float in [0, 0.3] {
            let layer = Linear(5, 3)
            try layer.attachLoRA(LoRAConfig(rank: 2, alpha: 3, dropout: dropout, targets: .pattern("")))
            let lora = layer.lora!
            lora.lora_B.weight.value = randn([3, 2])
            layer.eval()  // dropout is random in training; evaluation makes the function deterministic
            gradCheck([randn([4, 5]), lora.lora_A.weight.value, lora.lora_B.weight.value]) { layer($0[0]) }
        }
        let layer = Linear(5, 3)
        try layer.attachLoRA(LoRAConfig(rank: 2, alpha: 3, targets: .pattern("")))
        layer.lora!.lora_B.weight.value = randn([3, 2])
        XCTAssertNil(
            gradCheckProblem(
                [randn([2, 4, 5]), layer.lora!.lora_A.weight.value, layer.lora!.lora_B.weight.value],
                eps: 3e-3, tol: 2e-2
            ) { layer($0[0]) })
    }

    func testUpdateIsScaledLowRankProductOfDroppedInput() throws {
        let layer = Linear(6, 4)
        try layer.attachLoRA(LoRAConfig(rank: 3, alpha: 6, dropout: 0.5, targets: .pattern(""), useRSLoRA: true))
        let lora = layer.lora!
        lora.lora_B.weight.value = randn([4, 3])
        let x = randn([5, 6])
        let scale = 6 / Float(3).squareRoot()
        XCTAssertEqual(lora.scale, scale)
        let expected = noGrad {
            linear(x, layer.weight.value, layer.bias!.value) + matmul(
                matmul(x, lora.lora_A.weight.value.mT), lora.lora_B.weight.value.mT) * scale
        }
        layer.eval()
        XCTAssertLessThan(maxDiff(noGrad { layer(x) }, expected), 1e-5)
        layer.train()
        XCTAssertGreaterThan(
            maxDiff(noGrad { layer(x) }, expected), 1e-3, "dropout acts on the adapter's input in training")
    }

    func testTargetsFollowPEFTMatching() throws {
        let byPattern = TinyDecoder()
        XCTAssertEqual(
            try byPattern.attachLoRA(LoRAConfig(rank: 2, alpha: 2, targets: .pattern(#"layers\.1\..*_proj"#))),
            ["layers.1.q_proj", "layers.1.k_proj", "layers.1.v_proj", "layers.1.out_proj"])
        // A pattern must match the whole path; names match the whole path or its dotted tail.
        XCTAssertThrowsError(try TinyDecoder().attachLoRA(LoRAConfig(rank: 2, alpha: 2, targets: .pattern("q_proj"))))
        XCTAssertThrowsError(try TinyDecoder().attachLoRA(LoRAConfig(rank: 2, alpha: 2, targets: .names(["proj"]))))
        XCTAssertEqual(
            try TinyDecoder().attachLoRA(LoRAConfig(rank: 2, alpha: 2, targets: .names(["1.out_proj", "lm_head"]))),
            ["layers.1.out_proj", "lm_head"])
        XCTAssertThrowsError(try TinyDecoder().attachLoRA(LoRAConfig(rank: 2, alpha: 2, targets: .names(["norm"])))) {
            error in
            XCTAssertTrue("\(error)".contains("norm is a LayerNorm; LoRA applies to Linear layers only"), "\(error)")
        }
        XCTAssertThrowsError(try TinyDecoder().attachLoRA(LoRAConfig(rank: 2, alpha: 2, targets: .pattern("(")))) {
            error in
            XCTAssertTrue("\(error)".contains("not a valid regular expression"), "\(error)")
        }
        XCTAssertThrowsError(try byPattern.attachLoRA(LoRAConfig(rank: 2, alpha: 2, targets: .names(["q_proj"])))) {
            error in
            XCTAssertTrue("\(error)".contains("layers.1.q_proj already has a LoRA adapter"), "\(error)")
        }
    }

    func testModulesToSaveTrainAndAreSavedWithTheAdapter() throws {
        let model = TinyDecoder()
        var config = qv
        config.modulesToSave = ["lm_head"]
        try model.attachLoRA(config)
        XCTAssertTrue(model.lm_head.weight.isTrainable)
        XCTAssertFalse(model.norm.weight!.isTrainable)
        let state = model.adapterStateDict(modulesToSave: config.modulesToSave)
        XCTAssertEqual(state.count, 9)
        XCTAssertNotNil(state["lm_head.weight"])
        XCTAssertEqual(model.savedModulePaths(["lm_head"]), ["lm_head"])
    }

    func testOnlyLoRAParametersTrain() throws {
        let model = TinyDecoder()
        try model.attachLoRA(qv)
        let base = model.stateDict(includingAdapters: false).mapValues { $0.clone() }
        let adapters = model.adapterStateDict().mapValues { $0.clone() }
        let opt = AdamW(model.trainableParameters(), lr: 0.05)
        for _ in 0..<2 {
            model.zeroGrad()
            (model(randn([2, 3, 8])) * randn([2, 3, 5])).sum().backward()
            opt.step()
        }
        for (name, t) in model.stateDict(includingAdapters: false) {
            XCTAssertEqual(t.toArray(), base[name]!.toArray(), name)
        }
        for (name, t) in model.adapterStateDict() { XCTAssertNotEqual(t.toArray(), adapters[name]!.toArray(), name) }
    }

    func testMergeAddsTheUpdateAndUnmergeRestoresTheWeights() throws {
        let model = TinyDecoder()
        try model.attachLoRA(qv)
        randomizeB(model)
        let x = randn([2, 3, 8])
        let original = model.stateDict(includingAdapters: false).mapValues { $0.clone() }
        let withAdapter = noGrad { model(x) }
        try model.mergeLoRA()
        XCTAssertTrue(model.layers[0].q_proj!.lora!.isMerged)
        XCTAssertGreaterThan(maxDiff(model.layers[0].q_proj!.weight.value, original["layers.0.q_proj.weight"]!), 1e-3)
        XCTAssertLessThan(maxDiff(noGrad { model(x) }, withAdapter), 1e-5)
        try model.mergeLoRA()  // merging twice changes nothing
        XCTAssertLessThan(maxDiff(noGrad { model(x) }, withAdapter), 1e-5)
        model.unmergeLoRA()
        for (name, t) in model.stateDict(includingAdapters: false) {
            XCTAssertLessThan(maxDiff(t, original[name]!), 1e-6, name)
        }
        XCTAssertLessThan(maxDiff(noGrad { model(x) }, withAdapter), 1e-5)
        try model.mergeLoRA()
        model.removeLoRA()
        XCTAssertTrue(model.loraLayers().isEmpty)
        XCTAssertEqual(Set(model.stateDict().keys), Set(original.keys))
        XCTAssertLessThan(maxDiff(noGrad { model(x) }, withAdapter), 1e-5)
    }

    func testBaseCheckpointsLoadStrictlyIntoAModelWithAdapters() throws {
        let model = TinyDecoder()
        let checkpoint = model.stateDict().mapValues { $0.clone() }
        try model.attachLoRA(qv)
        randomizeB(model)
        XCTAssertEqual(Set(model.stateDict(includingAdapters: false).keys), Set(checkpoint.keys))
        let adapterB = model.layers[0].q_proj!.lora!.lora_B.weight.value.toArray()
        try model.load(stateDict: checkpoint)
        XCTAssertEqual(
            model.layers[0].q_proj!.lora!.lora_B.weight.value.toArray(), adapterB,
            "a base checkpoint leaves adapters alone")
        try model.load(stateDict: model.stateDict())  // a full snapshot round-trips
        var adapters = model.adapterStateDict()
        adapters["layers.0.q_proj.lora_A.weight"] = nil
        adapters["layers.0.k_proj.lora_A.weight"] = Tensor.zeros([2, 8])
        adapters["layers.1.v_proj.lora_B.weight"] = Tensor.zeros([8, 3])
        XCTAssertThrowsError(try model.loadAdapterState(adapters)) { error in
            let e = error as! StateDictError
            XCTAssertEqual(e.missing, ["layers.0.q_proj.lora_A.weight"])
            XCTAssertEqual(e.unexpected, ["layers.0.k_proj.lora_A.weight"])
            XCTAssertEqual(e.mismatched.map(\.0), ["layers.1.v_proj.lora_B.weight"])
        }
    }

    func testQuantisedBaseRunsWithLoRAButDoesNotMerge() throws {
        let layer = Linear(64, 16)
        try layer.attachLoRA(LoRAConfig(rank: 4, alpha: 4, targets: .pattern("")))
        layer.lora!.lora_B.weight.value = randn([16, 4])
        let x = randn([3, 64])
        let full = noGrad { layer(x) }
        XCTAssertEqual(
            (layer as Module).quantize(.q8).layers, 1, "the base weight is quantised, LoRA's matrices are not")
        XCTAssertNil(layer.lora!.lora_A.quantized)
        XCTAssertLessThan(maxDiff(noGrad { layer(x) }, full), 0.05)
        XCTAssertThrowsError(try layer.mergeLoRA())
        // The adapter still trains on top of the quantised weight.
        layer(x).sum().backward()
        XCTAssertNotNil(layer.lora!.lora_B.weight.grad)
    }

    /// `Linear.apply` (one pass over the rows of all layers for a decoded row or quantised layers)
    /// gives each layer's own output, LoRA updates included.
    func testApplyingSeveralLayersMatchesEachLayer() throws {
        let layers = [Linear(64, 96), Linear(64, 32, bias: false), Linear(64, 32)]
        try layers[2].attachLoRA(LoRAConfig(rank: 4, alpha: 4, targets: .pattern("")))
        layers[2].lora!.lora_B.weight.value = randn([32, 4])
        // f32, then bf16 weights (one decoded row takes one pass for all three), then q4.
        for format in ["f32", "bf16", "q4"] {
            if format == "bf16" { for layer in layers { layer.weight.value = layer.weight.value.to(.bf16) } }
            if format == "q4" { for layer in layers { XCTAssertTrue(layer.quantize(.q4)) } }
            for rows in [1, 5] {
                let x = randn([rows, 64])
                let together = noGrad { Linear.apply(layers, to: x) }
                for (layer, y) in zip(layers, together) { XCTAssertEqual(y.toArray(), noGrad { layer(x) }.toArray()) }
            }
        }
    }
}
