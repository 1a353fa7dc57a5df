import XCTest
import VLIO
import VLNN
import VLTensor
@testable import VLModels
import VLTestSupport

/// open_flamingo's own modules (tools/fixtures/make_flamingo_fixtures.py): state dicts load by
/// name and the outputs agree; with both gates at 0 a block changes nothing.
final class FlamingoParityTests: XCTestCase {
    func fixture(_ name: String) throws -> [String: Tensor] {
        try loadSafetensors(path: fixturesRoot.appendingPathComponent("flamingo/\(name).safetensors").path)
    }

    func parameters(_ f: [String: Tensor]) -> [String: Tensor] {
        Dictionary(
            uniqueKeysWithValues: f.filter { $0.key.hasPrefix("param.") }.map {
                (String($0.key.dropFirst(6)), $0.value.clone())
            })
    }

    func testPerceiverResampler() throws {
        let f = try fixture("resampler")
        let resampler = PerceiverResampler(dim: 32, depth: 2, dimHead: 8, heads: 4, numLatents: 6, maxNumMedia: 3)
        try resampler.load(stateDict: parameters(f))
        assertClose(noGrad { resampler(f["features"]!) }, f["latents"]!, "resampler latents")
    }

    func testGatedCrossAttention() throws {
        for (name, immediate) in [("gated_immediate", true), ("gated_all", false)] {
            let f = try fixture(name)
            let block = GatedCrossAttentionBlock(
                dim: 24, dimVisual: 32, dimHead: 8, heads: 3, ffMult: 2, onlyAttendImmediateMedia: immediate)
            try block.load(stateDict: parameters(f))
            let loc = f["locations"]!.toInts(), l = f["x"]!.shape[1]
            let locations = (0..<2).map { b in (0..<l).map { loc[b * l + $0] != 0 } }
            assertClose(noGrad { block(f["x"]!, media: f["media"]!, mediaLocations: locations) }, f["out"]!, name)
        }
    }

    func testClosedGatesLeaveTheTextUnchanged() throws {
        let block = GatedCrossAttentionBlock(dim: 16, dimVisual: 8, dimHead: 4, heads: 2)
        var rng = RandomGenerator(seed: 1)
        let x = Tensor.randn([1, 5, 16], rng: &rng), media = Tensor.randn([1, 1, 3, 8], rng: &rng)
        let out = noGrad { block(x, media: media, mediaLocations: [[true, false, false, false, false]]) }
        XCTAssertEqual(out.toArray(), x.toArray())
    }
}

final class FlamingoModelTests: XCTestCase {
    func makeModel() throws -> (FlamingoLlama, LlamaForCausalLM) {
        GlobalRandom.seed(12)
        let lm = try LlamaForCausalLM(tinyLlamaConfig())
        let flamingo = FlamingoLlama(
            languageModel: lm, visionWidth: 16, crossAttentionEvery: 2, latents: 4, resamplerDepth: 1, maxMedia: 2)
        return (flamingo, lm)
    }

    /// Fresh gates are 0: the model is exactly the plain decoder, whatever the images.
    func testClosedGatesGiveThePlainDecodersLogits() throws {
        let (flamingo, lm) = try makeModel()
        var rng = RandomGenerator(seed: 2)
        let ids = Tensor(ints: [3, 7, 1, 9, 4, 2], shape: [1, 6])
        let features = Tensor.randn([1, 2, 5, 16], rng: &rng)
        let locations = [[false, true, false, false, true, false]]
        let plain = noGrad {
            lm.logits(lm.hiddenStates(lm.embed(ids), positions: Array(0..<6), cache: nil, keyPadding: nil))
        }
        XCTAssertEqual(
            noGrad { flamingo.logits(ids: ids, features: features, mediaLocations: locations) }.toArray(),
            plain.toArray())
        // Open one gate: the images now matter, and gradients reach the gate and the resampler.
        flamingo.gated_cross_attn_layers.items[1]!.attn_gate.value = Tensor([0.5])
        let open = flamingo.logits(ids: ids, features: features, mediaLocations: locations)
        XCTAssertNotEqual(open.toArray(), plain.toArray())
        flamingo.language_model.freeze()
        open.sum().backward()
        XCTAssertNotNil(flamingo.gated_cross_attn_layers.items[1]!.attn_gate.grad)
        XCTAssertNotNil(flamingo.perceiver.latents.grad)
        XCTAssertNil(flamingo.language_model.model.layers[0].mlp.gate_proj.weight.grad)
    }

    func testOpenFlamingoNamesMapOntoTheModel() throws {
        let (flamingo, _) = try makeModel()
        let names = Set(flamingo.namedParameters().map(\.0))
        for key in [
            "lang_encoder.model.layers.1.decoder_layer.self_attn.q_proj.weight",
            "lang_encoder.model.layers.1.gated_cross_attn_layer.attn.to_kv.weight",
            "lang_encoder.gated_cross_attn_layers.1.ff_gate", "lang_encoder.model.embed_tokens.weight",
            "lang_encoder.lm_head.weight", "perceiver.layers.0.1.3.weight",
        ] {
            XCTAssertTrue(names.contains(openFlamingoKeyMap(key)), "\(key) → \(openFlamingoKeyMap(key))")
        }
        XCTAssertFalse(
            names.contains { $0.hasPrefix("gated_cross_attn_layers.0.") }, "only every second layer has a block")
    }
}
