import Foundation
import VLModels
import VLNN
import VLTensor

/// Model cases (peer: transformers on PyTorch, 2 threads, inference mode, random weights). Models
/// are built only for the cases `wants` names, so `--only` neither waits for nor keeps the others.
func modelBenchmarks(quick: Bool, wants: (String) -> Bool = { _ in true }) throws -> [BenchCase] {
    GlobalRandom.seed(0)
    let vision = try CLIPVisionTransformer(CLIPVisionConfig())  // ViT-B/32 at 224 px
    vision.eval()
    var rng = RandomGenerator(seed: 3)
    var cases: [BenchCase] = []
    for batch in quick ? [1] : [1, 8] where wants("clip_vit_b32_image_batch\(batch)") {
        let pixels = Tensor.randn([batch, 3, 224, 224], rng: &rng)
        cases.append(
            BenchCase(
                name: "clip_vit_b32_image_batch\(batch)", unit: "img/s", work: Double(batch),
                body: {
                    _ = noGrad { vision(pixels) }
                }, peer: "clip_vit_b32_image_batch\(batch)"))
    }
    if !quick && wants("clip_vit_l14_336_encode") {
        let large = try CLIPVisionModel(vitL14At336())
        large.eval()
        let pixels = Tensor.randn([1, 3, 336, 336], rng: &rng)
        cases.append(
            BenchCase(
                name: "clip_vit_l14_336_encode", unit: "img/s", work: 1,
                body: {
                    _ = noGrad { large.features(pixels) }
                }, peer: "clip_vit_l14_336_encode"))
    }
    if !quick && wants("clip_vit_l14_336_encode_bf16") {
        let pixels = Tensor.randn([1, 3, 336, 336], rng: &rng)
        // The same tower with bf16 Linear weights (`--dtype bf16`; llama.cpp's figure is for f16 weights).
        let half = try CLIPVisionModel(vitL14At336())
        half.eval()
        for (_, p) in half.namedParameters() where p.value.rank == 2 { p.value = p.value.to(.bf16, hugePages: true) }
        cases.append(
            BenchCase(
                name: "clip_vit_l14_336_encode_bf16", unit: "img/s", work: 1,
                body: {
                    _ = noGrad { half.features(pixels) }
                }, peer: "clip_vit_l14_336_encode_bf16"))
    }
    guard wants("clip_text_batch8x77") else { return cases }
    let text = try CLIPTextTransformer(CLIPTextConfig())
    text.eval()
    let ids = Tensor(ints: (0..<(8 * 77)).map { _ in rng.nextInt(49000) }, shape: [8, 77])
    cases.append(
        BenchCase(
            name: "clip_text_batch8x77", unit: "seq/s", work: 8,
            body: {
                _ = noGrad { text(ids) }
            }, peer: "clip_text_batch8x77"))
    return cases
}

/// LLaVA-1.5's vision tower: CLIP ViT-L/14 at 336 px.
func vitL14At336() -> CLIPVisionConfig {
    var v = CLIPVisionConfig()
    (v.hiddenSize, v.intermediateSize, v.numHiddenLayers, v.numAttentionHeads, v.imageSize, v.patchSize) = (
        1024, 4096, 24, 16, 336, 14
    )
    return v
}

/// Time to first token of a LLaVA-1.5-shaped model (ViT-L/14-336, MLP projector, TinyLlama-shaped
/// LLM): image features for 576 tokens, prefill of them plus 20 text tokens, one token out.
func llavaTimeToFirstToken(format: WeightFormat) throws -> Double {
    var c = LlavaConfig()
    c.vision = vitL14At336()
    (c.text.vocabSize, c.text.hiddenSize, c.text.intermediateSize, c.text.numHiddenLayers) = (32000, 2048, 5632, 22)
    (c.text.numAttentionHeads, c.text.numKeyValueHeads) = (32, 4)
    c.imageTokenId = 31999
    let model = try Init.skipping { try LlavaForConditionalGeneration(c) }
    for (_, p) in model.namedParameters() {
        let t = p.value, ptr = t.mutablePointer
        Parallel.forRange(t.count, grain: 1 << 20) { r in for i in r { ptr[i] = Float(i % 17 - 8) * 0.002 } }
        if format == .bf16, t.rank == 2, !p.value.shape.isEmpty { p.value = t.to(.bf16, hugePages: true) }
    }
    model.eval()
    var rng = RandomGenerator(seed: 5)
    let pixels = Tensor.randn([1, 3, 336, 336], rng: &rng)
    let ids = [1] + [Int](repeating: 31999, count: model.tokensPerImage) + (2..<22).map { $0 }
    return bestTime(repeats: 2, minSeconds: 0) {
        let embeddings = try! noGrad { try model.inputEmbeddings(ids: ids, pixels: pixels) }
        _ = Generator(model: model.language_model).generate(
            promptEmbeddings: embeddings, sampling: SamplingParameters(),
            stop: StopConditions(maxNewTokens: 1))
    }
}

extension Peer {
    /// transformers' CLIP towers on PyTorch (tools/bench/torch_clip_peer.py).
    static let torchScript = "torch_clip_peer.py"
}
