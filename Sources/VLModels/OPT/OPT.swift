import VLNN
import VLTensor

// OPT as in transformers' modeling_opt (BLIP-2's language model): learned positions with an
// offset of 2, ReLU feed-forward, pre- or post-norm blocks, optional project_in/project_out
// when the word embeddings are narrower than the hidden size, lm_head tied to the embeddings.

/// HF `OPTConfig`.
public struct OPTConfig: Equatable {
    public var vocabSize = 50272
    public var hiddenSize = 768
    public var numHiddenLayers = 12
    public var ffnDim = 3072
    public var numAttentionHeads = 12
    public var maxPositionEmbeddings = 2048
    public var doLayerNormBefore = true
    public var wordEmbedProjDim: Int? = nil
    public var activationFunction = "relu"
    public var enableBias = true
    public var layerNormElementwiseAffine = true
    public var removeFinalLayerNorm = false
    public var bosTokenId = 2
    public var eosTokenId = 2
    public var padTokenId = 1

    public init() {}

    public var embedDim: Int { wordEmbedProjDim ?? hiddenSize }
}

public final class OPTDecoderLayer: Module {
    public let self_attn: MultiHeadAttention
    public let self_attn_layer_norm: LayerNorm
    public let fc1, fc2: Linear
    public let final_layer_norm: LayerNorm
    let preNorm: Bool
    let activation: Activation

    init(_ c: OPTConfig) throws {
        self_attn = MultiHeadAttention(dim: c.hiddenSize, heads: c.numAttentionHeads, bias: c.enableBias)
        self_attn_layer_norm = LayerNorm(c.hiddenSize, affine: c.layerNormElementwiseAffine)
        fc1 = Linear(c.hiddenSize, c.ffnDim, bias: c.enableBias)
        fc2 = Linear(c.ffnDim, c.hiddenSize, bias: c.enableBias)
        final_layer_norm = LayerNorm(c.hiddenSize, affine: c.layerNormElementwiseAffine)
        preNorm = c.doLayerNormBefore
        activation = try Activation(name: c.activationFunction)
    }

    func callAsFunction(_ x: Tensor, layer: Int, cache: KVCache?, keyPadding: Tensor?) -> Tensor {
        var h = x + attention(preNorm ? self_attn_layer_norm(x) : x, layer: layer, cache: cache, keyPadding: keyPadding)
        if !preNorm { h = self_attn_layer_norm(h) }
        var out = h + fc2(activation(fc1(preNorm ? final_layer_norm(h) : h)))
        if !preNorm { out = final_layer_norm(out) }
        return captured(out)
    }

    private func attention(_ x: Tensor, layer: Int, cache: KVCache?, keyPadding: Tensor?) -> Tensor {
        let a = self_attn, heads = a.heads
        let q = splitHeads(a.q_proj!(x), heads)
        var k = splitHeads(a.k_proj!(x), heads), v = splitHeads(a.v_proj!(x), heads)
        if let cache { (k, v) = cache.update(layer: layer, keys: k, values: v) }
        let o = scaledDotProductAttention(q, k, v, causal: true, keyPadding: keyPadding)
        return a.out_proj(mergeHeads(o))
    }
}

public final class OPTDecoder: Module {
    public let embed_tokens: Embedding
    public let embed_positions: Embedding
    public let project_in: Linear?
    public let project_out: Linear?
    public let layers: [OPTDecoderLayer]
    public let final_layer_norm: LayerNorm?

    /// OPT's learned position table starts at index 2 (fairseq's padding offset).
    static let positionOffset = 2

    init(_ c: OPTConfig) throws {
        embed_tokens = Embedding(c.vocabSize, c.embedDim)
        embed_positions = Embedding(c.maxPositionEmbeddings + OPTDecoder.positionOffset, c.hiddenSize)
        let projected = c.embedDim != c.hiddenSize
        project_in = projected ? Linear(c.embedDim, c.hiddenSize, bias: false) : nil
        project_out = projected ? Linear(c.hiddenSize, c.embedDim, bias: false) : nil
        layers = try (0..<c.numHiddenLayers).map { _ in try OPTDecoderLayer(c) }
        final_layer_norm =
            c.doLayerNormBefore && !c.removeFinalLayerNorm
            ? LayerNorm(c.hiddenSize, affine: c.layerNormElementwiseAffine) : nil
    }
}

/// HF `OPTForCausalLM` (`model.decoder.*`; the output projection is the token embedding).
public final class OPTForCausalLM: Module, LanguageModel {
    public let model: OPTModelWrapper
    public let config: OPTConfig

    public init(_ c: OPTConfig) throws {
        config = c
        model = OPTModelWrapper(decoder: try OPTDecoder(c))
    }

    public var hiddenSize: Int { config.embedDim }
    public var vocabSize: Int { config.vocabSize }
    var decoder: OPTDecoder { model.decoder }

    public func embed(_ ids: Tensor) -> Tensor { decoder.embed_tokens(ids) }

    /// Positions count real tokens only (a left-padded row starts at 0 at its first token), as
    /// transformers derives them from the attention mask; the caller passes them in.
    public func hiddenStates(_ embeddings: Tensor, positions: [Int], cache: KVCache?, keyPadding: Tensor?) -> Tensor {
        var h = decoder.project_in?(embeddings) ?? embeddings
        let b = h.shape[0], l = h.shape[1]
        let ids = positions.count == l ? (0..<b).flatMap { _ in positions } : positions
        let table = Tensor(ints: ids.map { Swift.max($0, 0) + OPTDecoder.positionOffset }, shape: [b, l])
        h = h + decoder.embed_positions(table)
        for (i, layer) in decoder.layers.enumerated() { h = layer(h, layer: i, cache: cache, keyPadding: keyPadding) }
        cache?.commit()
        if let norm = decoder.final_layer_norm { h = norm(h) }
        return decoder.project_out?(h) ?? h
    }

    public func logits(_ hidden: Tensor) -> Tensor { linear(hidden, decoder.embed_tokens.weight.value) }
}

/// The `model` level of the checkpoint names (`model.decoder.*`).
public final class OPTModelWrapper: Module {
    public let decoder: OPTDecoder
    init(decoder: OPTDecoder) { self.decoder = decoder }
}
