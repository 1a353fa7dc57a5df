import VLNN
import VLTensor

/// Modules at sparse indices, named by index (open_flamingo's list with `None` gaps).
public final class IndexedModules<M: Module>: Module {
    public let items: [Int: M]
    public init(_ items: [Int: M]) { self.items = items }
    public override func namedChildren() -> [(String, Module)] { items.keys.sorted().map { (String($0), items[$0]!) } }
}

/// A Flamingo-style model: a (frozen) LLaMA-family decoder with a gated cross-attention block
/// before every `crossAttentionEvery`-th decoder layer, reading latents from a Perceiver Resampler.
/// Vision features come from any `VisionEncoder` outside this module.
public final class FlamingoLlama: Module {
    public let language_model: LlamaForCausalLM
    public let perceiver: PerceiverResampler
    public let gated_cross_attn_layers: IndexedModules<GatedCrossAttentionBlock>

    public init(languageModel: LlamaForCausalLM, visionWidth: Int, crossAttentionEvery: Int = 1, latents: Int = 64,
                resamplerDepth: Int = 6, maxMedia: Int? = nil, onlyAttendImmediateMedia: Bool = true) {
        language_model = languageModel
        let c = languageModel.config
        perceiver = PerceiverResampler(dim: visionWidth, depth: resamplerDepth, numLatents: latents, maxNumMedia: maxMedia)
        var blocks: [Int: GatedCrossAttentionBlock] = [:]
        for i in 0..<c.numHiddenLayers where (i + 1) % crossAttentionEvery == 0 {
            blocks[i] = GatedCrossAttentionBlock(dim: c.hiddenSize, dimVisual: visionWidth, onlyAttendImmediateMedia: onlyAttendImmediateMedia)
        }
        gated_cross_attn_layers = IndexedModules(blocks)
    }

    /// Logits [B, L, vocab] for token ids [B, L]; `features` [B, T, N, Dv] are the T images' vision
    /// features, `mediaLocations` marks the `<image>` tokens that introduce them.
    public func logits(ids: Tensor, features: Tensor, mediaLocations: [[Bool]]) -> Tensor {
        let media = perceiver(features)
        let lm = language_model
        let l = ids.shape[1]
        let rope = RotaryTable(config: lm.config, headDim: lm.config.resolvedHeadDim, positions: Array(0..<l))
        var h = lm.embed(ids)
        for (i, layer) in lm.model.layers.enumerated() {
            if let block = gated_cross_attn_layers.items[i] { h = block(h, media: media, mediaLocations: mediaLocations) }
            h = layer(h, rope: rope, layer: i, cache: nil, keyPadding: nil)
        }
        return lm.logits(lm.model.norm(h))
    }
}

/// OpenFlamingo state-dict names → FlamingoLlama's:
/// `lang_encoder.model.layers.{i}.decoder_layer.X` → `language_model.model.layers.{i}.X`,
/// `lang_encoder.model.layers.{i}.gated_cross_attn_layer.X` and `lang_encoder.gated_cross_attn_layers.{i}.X`
/// → `gated_cross_attn_layers.{i}.X`, other `lang_encoder.X` → `language_model.X`, `perceiver.X` as is.
/// (The vision encoder, open_clip's, is loaded separately.)
public func openFlamingoKeyMap(_ key: String) -> String {
    let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    if parts.count > 5, parts[0] == "lang_encoder", parts[1] == "model", parts[2] == "layers" {
        let index = parts[3], rest = parts[5...].joined(separator: ".")
        if parts[4] == "decoder_layer" { return "language_model.model.layers.\(index).\(rest)" }
        if parts[4] == "gated_cross_attn_layer" { return "gated_cross_attn_layers.\(index).\(rest)" }
    }
    if key.hasPrefix("lang_encoder.gated_cross_attn_layers.") { return String(key.dropFirst("lang_encoder.".count)) }
    if key.hasPrefix("lang_encoder.") { return "language_model." + key.dropFirst("lang_encoder.".count) }
    return key
}
