import Foundation
import VLFiles
import XCTest
import VLIO
import VLNN
import VLTensor
@testable import VLModels
import VLTestSupport

/// LoRA adapters written by the `peft` library (tools/fixtures/make_peft_fixtures.py) on a tiny
/// random LLaMA: logits, gradients and merged weights as PEFT computes them; our saved adapters
/// keep PEFT's layout.
final class PEFTParityTests: XCTestCase {
    let cases = ["qv", "regex_save"]

    func baseModel() throws -> LlamaForCausalLM {
        let m = try LlamaForCausalLM.load(directory: fixtureDirectory("peft", "base"))
        m.eval()
        return m
    }

    func logits(_ m: LlamaForCausalLM, _ ids: Tensor) -> Tensor {
        m.logits(m.hiddenStates(m.embed(ids), positions: Array(0..<ids.shape[1]), cache: nil, keyPadding: nil))
    }

    func adapterModel(_ name: String, trainable: Bool = false) throws -> LlamaForCausalLM {
        let m = try baseModel()
        try loadPEFTAdapter(into: m, from: fixtureDirectory("peft", name), trainable: trainable)
        return m
    }

    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("peft-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    func testLogitsMatchPEFT() throws {
        for name in cases {
            let ref = try reference("peft", name)
            let ids = ref["input_ids"]!
            let base = try baseModel()
            assertClose(noGrad { logits(base, ids) }, ref["base_logits"]!, "\(name) base logits")
            let m = try adapterModel(name)
            assertClose(noGrad { logits(m, ids) }, ref["logits"]!, "\(name) logits with the adapter")
        }
    }

    func testGradientsMatchPEFT() throws {
        for name in cases {
            let ref = try reference("peft", name)
            let ids = ref["input_ids"]!
            let m = try adapterModel(name, trainable: true)
            let l = ids.shape[1]
            let out = logits(m, ids)
            let loss = crossEntropy(out.narrow(1, start: 0, length: l - 1), ids.narrow(1, start: 1, length: l - 1))
            loss.backward()
            XCTAssertEqual(loss.item(), ref["loss"]!.item(), accuracy: 1e-5, "\(name) loss")
            let params = Dictionary(uniqueKeysWithValues: m.namedParameters())
            let gradKeys = ref.keys.filter { $0.hasPrefix("grad.") }
            XCTAssertEqual(gradKeys.count, 2 * m.loraLayers().count)
            for key in gradKeys {
                let param = String(key.dropFirst("grad.".count))
                guard let grad = params[param]?.grad else { XCTFail("\(name): no gradient for \(param)"); continue }
                assertClose(grad, ref[key]!, tol: 1e-5, "\(name) gradient of \(param)")
            }
            for (n, p) in params where !p.isAdapter && !n.hasPrefix("lm_head") {
                XCTAssertNil(p.grad, "\(n) is frozen")
            }
        }
    }

    func testMergeMatchesMergeAndUnloadAndUnmergeRestoresTheWeights() throws {
        for name in cases {
            let ref = try reference("peft", name)
            let ids = ref["input_ids"]!
            let m = try adapterModel(name)
            let before = m.stateDict(includingAdapters: false).mapValues { $0.clone() }
            try m.mergeLoRA()
            for key in ref.keys where key.hasPrefix("merged.") {
                let param = String(key.dropFirst("merged.".count))
                assertClose(m.stateDict()[param]!, ref[key]!, tol: 1e-6, "\(name) merged \(param)")
            }
            assertClose(noGrad { logits(m, ids) }, ref["merged_logits"]!, "\(name) merged logits")
            m.unmergeLoRA()
            for (param, t) in m.stateDict(includingAdapters: false) {
                assertClose(t, before[param]!, tol: 1e-6, "\(name) \(param) after unmerge")
            }
            assertClose(noGrad { logits(m, ids) }, ref["logits"]!, "\(name) logits after unmerge")
        }
    }

    func testSavedAdapterHasPEFTLayoutAndReloadsIdentically() throws {
        for name in cases {
            let source = fixtureDirectory("peft", name)
            let ids = try reference("peft", name)["input_ids"]!
            let m = try adapterModel(name)
            let config = try readPEFTAdapterConfig(source)
            let dir = try temporaryDirectory()
            try savePEFTAdapter(of: m, config: config, to: dir)
            let ours = try SafetensorsFile(path: dir.appendingPathComponent(peftWeightsFile).path)
            let peft = try SafetensorsFile(path: source.appendingPathComponent(peftWeightsFile).path)
            XCTAssertEqual(ours.names, peft.names, "\(name): PEFT's key names")
            for key in peft.names {
                XCTAssertEqual(try ours.tensor(key).toArray(), try peft.tensor(key).toArray(), key)
            }
            XCTAssertEqual(try readPEFTAdapterConfig(dir), config)
            let written =
                try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent(peftConfigFile)))
                as! [String: Any]
            XCTAssertEqual(written["peft_type"] as? String, "LORA")
            XCTAssertEqual(written["bias"] as? String, "none")
            XCTAssertEqual(written["fan_in_fan_out"] as? Bool, false)
            XCTAssertEqual(written["task_type"] as? String, "CAUSAL_LM")
            XCTAssertEqual(written["base_model_name_or_path"] as? String, "tiny-random-llama")
            let reloaded = try baseModel()
            try loadPEFTAdapter(into: reloaded, from: dir)
            XCTAssertEqual(
                noGrad { logits(reloaded, ids) }.toArray(), noGrad { logits(m, ids) }.toArray(), "\(name) reloaded")
        }
    }

    /// The usual flow: attach, train, save; the base checkpoint still loads strictly afterwards.
    func testTrainedAdapterSavesAndTheBaseCheckpointStillLoadsStrictly() throws {
        let m = try baseModel()
        let config = PEFTAdapterConfig(
            lora: LoRAConfig(rank: 2, alpha: 4, targets: .names(["q_proj", "o_proj"])),
            baseModelNameOrPath: "tiny-random-llama", taskType: "CAUSAL_LM")
        try m.attachLoRA(config.lora)
        m.train()
        let ids = try reference("peft", "qv")["input_ids"]!
        let opt = AdamW(m.trainableParameters(), lr: 1e-2)
        for _ in 0..<2 {
            m.zeroGrad()
            crossEntropy(logits(m, ids).narrow(1, start: 0, length: 9), ids.narrow(1, start: 1, length: 9)).backward()
            opt.step()
        }
        m.eval()
        let trained = noGrad { logits(m, ids) }
        try m.load(stateDict: try Checkpoint(directory: fixtureDirectory("peft", "base")).tensors())
        XCTAssertEqual(noGrad { logits(m, ids) }.toArray(), trained.toArray(), "reloading the base leaves the adapter")
        let dir = try temporaryDirectory()
        try savePEFTAdapter(of: m, config: config, to: dir)
        let reloaded = try baseModel()
        try loadPEFTAdapter(into: reloaded, from: dir)
        XCTAssertEqual(noGrad { logits(reloaded, ids) }.toArray(), trained.toArray())
        XCTAssertEqual(reloaded.parameterCount(trainableOnly: true), 0, "an adapter loads frozen unless trainable")
    }

    /// A copy of the qv adapter with its config or weights changed by `edit`.
    func brokenAdapter(
        config edit: (inout [String: Any]) -> Void = { _ in },
        weights editWeights: (inout [String: Tensor]) -> Void = { _ in }
    ) throws -> URL {
        let source = fixtureDirectory("peft", "qv"), dir = try temporaryDirectory()
        var config =
            try JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent(peftConfigFile)))
            as! [String: Any]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent(peftConfigFile))
        var weights = try loadSafetensors(path: source.appendingPathComponent(peftWeightsFile).path)
        editWeights(&weights)
        try writeSafetensors(weights, to: dir.appendingPathComponent(peftWeightsFile))
        return dir
    }

    func assertLoadFails(_ dir: URL, _ expected: [String], line: UInt = #line) throws {
        let m = try baseModel()
        XCTAssertThrowsError(try loadPEFTAdapter(into: m, from: dir), line: line) { error in
            for text in expected { XCTAssertTrue("\(error)".contains(text), "\(error)", line: line) }
        }
        XCTAssertTrue(m.loraLayers().isEmpty, "a failed load leaves no adapter", line: line)
    }

    func testLoadingErrorsAreClear() throws {
        let prefix = "base_model.model.model.layers."
        try assertLoadFails(
            try brokenAdapter(config: { $0["peft_type"] = "PREFIX_TUNING" }),
            ["adapter_config.json", "peft_type \"PREFIX_TUNING\" is not supported"])
        try assertLoadFails(try brokenAdapter(config: { $0["use_dora"] = true }), ["\"use_dora\" is set"])
        try assertLoadFails(try brokenAdapter(config: { $0["bias"] = "all" }), ["bias \"all\" is not supported"])
        try assertLoadFails(
            try brokenAdapter(config: { $0["target_modules"] = ["gate"] }),
            ["target modules names([\"gate\"]) not found"])
        try assertLoadFails(
            try brokenAdapter(config: { $0["r"] = 8 }),
            [
                "does not fit the model",
                "shape mismatch for model.layers.0.self_attn.q_proj.lora_A.weight: model [8, 32], checkpoint [4, 32]",
            ])
        try assertLoadFails(
            try brokenAdapter(weights: { $0[prefix + "1.self_attn.v_proj.lora_B.weight"] = nil }),
            ["missing keys (1): model.layers.1.self_attn.v_proj.lora_B.weight"])
        try assertLoadFails(
            try brokenAdapter(weights: { $0[prefix + "1.self_attn.k_proj.lora_B.weight"] = Tensor.zeros([16, 4]) }),
            ["unexpected keys (1): model.layers.1.self_attn.k_proj.lora_B.weight"])
        try assertLoadFails(
            try brokenAdapter(weights: { $0["lora_B.weight"] = Tensor.zeros([1]) }),
            ["key lora_B.weight does not start with base_model.model."])
        let badJSON = try brokenAdapter()
        try Data("{\"peft_type\": ".utf8).write(to: badJSON.appendingPathComponent(peftConfigFile))
        try assertLoadFails(badJSON, ["adapter_config.json is not a JSON object"])
    }
}
