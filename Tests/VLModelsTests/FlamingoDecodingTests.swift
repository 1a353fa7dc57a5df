import XCTest
import VLNN
import VLTensor
@testable import VLModels

/// Flamingo's incremental decoding: a KV cache for the decoder, the images' cross-attention keys
/// and values computed once, and the same "which image does this token see" as a full pass.
final class FlamingoDecodingTests: XCTestCase {
    let media = 5
    let ids = [1, 5, 7, 9, 4, 5, 12, 3, 8, 5, 6, 2]  // three <image> tokens (5)

    func makeModel(immediate: Bool, openGates: Bool) throws -> (FlamingoLlama, LlamaForCausalLM, Tensor) {
        GlobalRandom.seed(21)
        let lm = try LlamaForCausalLM(tinyLlamaConfig())
        let flamingo = FlamingoLlama(
            languageModel: lm, visionWidth: 16, crossAttentionEvery: 1, latents: 3, resamplerDepth: 1,
            maxMedia: 3, onlyAttendImmediateMedia: immediate, dimHead: 4, heads: 2, ffMult: 2)
        if openGates {
            for block in flamingo.gated_cross_attn_layers.items.values {
                (block.attn_gate.value, block.ff_gate.value) = (Tensor([0.7]), Tensor([0.4]))
            }
        }
        var rng = RandomGenerator(seed: 22)
        return (flamingo, lm, Tensor.randn([1, 3, 4, 16], rng: &rng))
    }

    func maxDiff(_ a: Tensor, _ b: Tensor) -> Float { zip(a.toArray(), b.toArray()).map { abs($0 - $1) }.max()! }

    func testMediaTimesCountTheImagesSoFar() {
        XCTAssertEqual(mediaTimes([false, true, false, true, false]), [0, 1, 1, 2, 2])
    }

    /// A prefill of part of the prompt, then one token at a time through the cache, gives the
    /// logits of one full forward pass — with three images, for both masking rules.
    func testCachedIncrementalDecodingMatchesTheFullForward() throws {
        for immediate in [true, false] {
            let (flamingo, lm, features) = try makeModel(immediate: immediate, openGates: true)
            let locations = ids.map { $0 == media }
            let full = noGrad {
                flamingo.logits(
                    ids: Tensor(ints: ids, shape: [1, ids.count]), features: features, mediaLocations: [locations])
            }
            let prompt = FlamingoPrompt(flamingo, features: features, mediaLocations: locations)
            let cache = KVCache()
            var steps: [Tensor] = []
            for (start, length) in [(0, 3)] + (3..<ids.count).map({ ($0, 1) }) {
                let chunk = Tensor(ints: Array(ids[start..<(start + length)]), shape: [1, length])
                steps.append(
                    noGrad {
                        lm.logits(
                            prompt.hiddenStates(
                                lm.embed(chunk), positions: Array(start..<(start + length)), cache: cache,
                                keyPadding: nil))
                    })
            }
            XCTAssertEqual(cache.length, ids.count)
            XCTAssertLessThan(maxDiff(cat(steps, dim: 1), full), 1e-5, "immediate \(immediate)")
            // The images matter: without them the logits differ.
            let plain = noGrad {
                lm.logits(
                    lm.hiddenStates(
                        lm.embed(Tensor(ints: ids, shape: [1, ids.count])), positions: Array(0..<ids.count),
                        cache: nil, keyPadding: nil))
            }
            XCTAssertGreaterThan(maxDiff(full, plain), 1e-3)
        }
    }

    /// Generated tokens see the prompt's last image: greedy generation through the cache equals
    /// re-running the whole sequence each step.
    func testGenerationMatchesUncachedGreedyDecoding() throws {
        let (flamingo, lm, features) = try makeModel(immediate: true, openGates: true)
        let prompt = Array(ids.prefix(8)), locations = prompt.map { $0 == media }
        let images = features.narrow(1, start: 0, length: 2)
        let decoder = FlamingoPrompt(flamingo, features: images, mediaLocations: locations)
        let cached = Generator(model: decoder).generate(
            promptEmbeddings: noGrad { lm.embed(Tensor(ints: prompt, shape: [1, 8])) },
            sampling: SamplingParameters(), stop: StopConditions(maxNewTokens: 6)
        ).0
        var tokens = prompt
        for _ in 0..<6 {
            let generated = [Bool](repeating: false, count: tokens.count - prompt.count)
            let logits = noGrad {
                flamingo.logits(
                    ids: Tensor(ints: tokens, shape: [1, tokens.count]), features: images,
                    mediaLocations: [locations + generated])
            }
            tokens.append(logits.select(1, tokens.count - 1).argmax(-1).toInts()[0])
        }
        XCTAssertEqual(cached, Array(tokens.dropFirst(prompt.count)))
    }

    /// Gates at 0: generation through the Flamingo prompt is the plain decoder's, whatever the images.
    func testClosedGatesGenerateAsThePlainDecoder() throws {
        let (flamingo, lm, features) = try makeModel(immediate: true, openGates: false)
        let embeddings = noGrad { lm.embed(Tensor(ints: ids, shape: [1, ids.count])) }
        let decoder = FlamingoPrompt(flamingo, features: features, mediaLocations: ids.map { $0 == media })
        let stop = StopConditions(maxNewTokens: 8)
        XCTAssertEqual(
            Generator(model: decoder).generate(promptEmbeddings: embeddings, sampling: SamplingParameters(), stop: stop)
                .0,
            Generator(model: lm).generate(promptEmbeddings: embeddings, sampling: SamplingParameters(), stop: stop).0)
        let ours = noGrad {
            lm.logits(
                decoder.hiddenStates(embeddings, positions: Array(0..<ids.count), cache: KVCache(), keyPadding: nil))
        }
        let plain = noGrad {
            lm.logits(lm.hiddenStates(embeddings, positions: Array(0..<ids.count), cache: nil, keyPadding: nil))
        }
        XCTAssertEqual(ours.toArray(), plain.toArray())
    }

    func testOpenFlamingoNamesRoundTrip() throws {
        let (flamingo, _, _) = try makeModel(immediate: true, openGates: false)
        for (name, _) in flamingo.namedParameters() {
            XCTAssertEqual(openFlamingoKeyMap(openFlamingoName(name)), name)
        }
        XCTAssertEqual(
            openFlamingoName("language_model.model.layers.1.mlp.up_proj.weight"),
            "lang_encoder.model.layers.1.decoder_layer.mlp.up_proj.weight")
        XCTAssertEqual(
            openFlamingoName("gated_cross_attn_layers.0.attn_gate"), "lang_encoder.gated_cross_attn_layers.0.attn_gate")
    }

    /// open_clip fuses q, k, v: splitting and fusing again gives the HF tensors back, and the
    /// names are open_clip's.
    func testOpenCLIPVisionLayoutRoundTrips() throws {
        var c = CLIPVisionConfig()
        (c.hiddenSize, c.intermediateSize, c.numHiddenLayers, c.numAttentionHeads, c.imageSize, c.patchSize) = (
            16, 32, 2, 2, 8, 4
        )
        let vision = try CLIPVisionModel(c)
        let hf = vision.stateDict()
        let open = OpenCLIPVisionNames.openCLIPState(hf)
        XCTAssertEqual(open["transformer.resblocks.1.attn.in_proj_weight"]?.shape, [48, 16])
        for key in [
            "conv1.weight", "class_embedding", "positional_embedding", "ln_pre.weight", "ln_post.bias",
            "transformer.resblocks.0.mlp.c_fc.weight", "transformer.resblocks.0.attn.out_proj.bias",
            "transformer.resblocks.0.ln_2.weight",
        ] {
            XCTAssertNotNil(open[key], key)
        }
        let back = try OpenCLIPVisionNames.hfState(open, hfNames: Array(hf.keys), source: "test")
        for (k, v) in hf { XCTAssertEqual(back[k]?.toArray(), v.toArray(), k) }
        var extra = open
        extra["transformer.resblocks.9.ln_1.weight"] = Tensor([1])
        extra["conv1.weight"] = nil
        XCTAssertThrowsError(try OpenCLIPVisionNames.hfState(extra, hfNames: Array(hf.keys), source: "test")) { error in
            XCTAssertTrue("\(error)".contains("conv1.weight") && "\(error)".contains("resblocks.9"), "\(error)")
        }
    }
}
