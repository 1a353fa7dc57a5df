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

    public init(
        languageModel: LlamaForCausalLM, visionWidth: Int, crossAttentionEvery: Int = 1, latents: Int = 64,
        resamplerDepth: Int = 6, maxMedia: Int? = nil, onlyAttendImmediateMedia: Bool = true,
        dimHead: Int = 64, heads: Int = 8, ffMult: Int = 4
    ) {
        language_model = languageModel
        let c = languageModel.config
        perceiver = PerceiverResampler(
            dim: visionWidth, depth: resamplerDepth, dimHead: dimHead, heads: heads, numLatents: latents,
            maxNumMedia: maxMedia, ffMult: ffMult)
        var blocks: [Int: GatedCrossAttentionBlock] = [:]
        for i in 0..<c.numHiddenLayers where (i + 1) % crossAttentionEvery == 0 {
            blocks[i] = GatedCrossAttentionBlock(
                dim: c.hiddenSize, dimVisual: visionWidth, dimHead: dimHead, heads: heads, ffMult: ffMult,
                onlyAttendImmediateMedia: onlyAttendImmediateMedia)
        }
        gated_cross_attn_layers = IndexedModules(blocks)
    }

    /// Every cross-attention layer's keys and values for images with vision features
    /// [B, T, N, Dv]: the resampler's latents, projected once per prompt.
    public func media(features: Tensor) -> [Int: MediaKeysValues] {
        let latents = perceiver(features)
        return gated_cross_attn_layers.items.mapValues { $0.attn.keysValues(latents) }
    }

    /// Final hidden states [B, L, hidden] of `embeddings` [B, L, hidden] at positions `start…`,
    /// whose tokens see images `textTimes` [B][L] (`mediaTimes`). With a cache, the self-attention
    /// keys and values are appended to it and attention covers everything stored.
    public func hiddenStates(
        _ embeddings: Tensor, media: [Int: MediaKeysValues], textTimes: [[Int]], start: Int = 0,
        cache: KVCache? = nil
    ) -> Tensor {
        let lm = language_model
        let rope = RotaryTable(
            config: lm.config, headDim: lm.config.resolvedHeadDim,
            positions: Array(start..<(start + embeddings.shape[1])))
        var h = embeddings
        for (i, layer) in lm.model.layers.enumerated() {
            if let block = gated_cross_attn_layers.items[i] { h = block(h, media: media[i]!, textTimes: textTimes) }
            h = layer(h, rope: rope, layer: i, cache: cache, keyPadding: nil)
        }
        cache?.commit()
        return lm.model.norm(h)
    }

    /// Logits [B, L, vocab] for token ids [B, L]; `features` [B, T, N, Dv] are the T images' vision
    /// features, `mediaLocations` marks the `<image>` tokens that introduce them.
    public func logits(ids: Tensor, features: Tensor, mediaLocations: [[Bool]]) -> Tensor {
        let lm = language_model
        let hidden = hiddenStates(
            lm.embed(ids), media: media(features: features), textTimes: mediaLocations.map { mediaTimes($0) })
        return lm.logits(hidden)
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

/// FlamingoLlama's names → OpenFlamingo's, the inverse of `openFlamingoKeyMap` (gated blocks
/// under `lang_encoder.gated_cross_attn_layers.{i}`, the one name of the two aliases kept).
public func openFlamingoName(_ key: String) -> String {
    let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    if parts.count > 4, parts[0] == "language_model", parts[1] == "model", parts[2] == "layers" {
        return "lang_encoder.model.layers.\(parts[3]).decoder_layer." + parts[4...].joined(separator: ".")
    }
    if key.hasPrefix("language_model.") { return "lang_encoder." + key.dropFirst("language_model.".count) }
    if key.hasPrefix("gated_cross_attn_layers.") { return "lang_encoder." + key }
    return key
}
