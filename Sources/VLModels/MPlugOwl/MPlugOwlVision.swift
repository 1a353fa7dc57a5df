import VLNN
import VLTensor

// The released mPLUG-Owl vision tower (`MplugOwlVisionModel` in X-PLUG/mPLUG-Owl's
// modeling_mplug_owl.py): a pre-norm ViT with a pre-layernorm after the embeddings, one fused
// `query_key_value` projection whose rows are grouped per head as (q, k, v), QuickGELU in the
// feed-forward block, and `post_layernorm` over every output token. Sizes come in a
// CLIPVisionConfig (the same fields as `MplugOwlVisionConfig`).

/// `cls_token` [1, 1, hidden], a bias-free `patch_embed` conv, `position_embedding` [1, 1 + patches, hidden]
/// and `pre_layernorm`.
public final class MPlugOwlVisionEmbeddings: Module {
    public let cls_token: Parameter
    public let patch_embed: Conv2d
    public let position_embedding: Parameter
    public let pre_layernorm: LayerNorm

    init(_ c: CLIPVisionConfig) {
        cls_token = Parameter(Init.normal([1, 1, c.hiddenSize], std: 0.02))
        patch_embed = Conv2d(c.numChannels, c.hiddenSize, kernel: c.patchSize, stride: c.patchSize, bias: false)
        position_embedding = Parameter(Init.normal([1, c.numPositions, c.hiddenSize], std: 0.02))
        pre_layernorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
    }

    /// pixels [B, 3, H, W] → [B, 1 + patches, hidden].
    func callAsFunction(_ pixels: Tensor) -> Tensor {
        pre_layernorm(
            patchTokens(pixels, conv: patch_embed, classToken: cls_token.value, positions: position_embedding.value))
    }
}

/// Self-attention with one `query_key_value` [3·hidden, hidden] whose output splits per head as
/// [heads, 3, headDim] (not [3, heads, headDim]), and the output projection `dense`.
public final class MPlugOwlVisionAttention: Module {
    public let query_key_value: Linear
    public let dense: Linear
    let heads: Int

    init(_ c: CLIPVisionConfig) {
        query_key_value = Linear(c.hiddenSize, 3 * c.hiddenSize)
        dense = Linear(c.hiddenSize, c.hiddenSize)
        heads = c.numAttentionHeads
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let (b, l, c) = (x.shape[0], x.shape[1], x.shape[2])
        let qkv = query_key_value(x).reshape([b, l, heads, 3, c / heads])
        let (q, k, v) = (
            qkv.select(3, 0).transpose(1, 2), qkv.select(3, 1).transpose(1, 2), qkv.select(3, 2).transpose(1, 2)
        )
        return dense(mergeHeads(scaledDotProductAttention(q, k, v)))
    }
}

public final class MPlugOwlVisionEncoderLayer: Module {
    public let input_layernorm: LayerNorm
    public let self_attn: MPlugOwlVisionAttention
    public let post_attention_layernorm: LayerNorm
    public let mlp: MLP

    init(_ c: CLIPVisionConfig) {
        input_layernorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        self_attn = MPlugOwlVisionAttention(c)
        post_attention_layernorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        // The released MplugOwlMLP applies QuickGELU whatever `hidden_act` says.
        mlp = MLP(c.hiddenSize, hidden: c.intermediateSize, activation: .quickGelu)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let h = x + self_attn(input_layernorm(x))
        return captured(h + mlp(post_attention_layernorm(h)))
    }
}

public final class MPlugOwlVisionEncoder: Module {
    public let layers: [MPlugOwlVisionEncoderLayer]
    init(_ c: CLIPVisionConfig) { layers = (0..<c.numHiddenLayers).map { _ in MPlugOwlVisionEncoderLayer(c) } }
}

/// `vision_model.*` of a released checkpoint: embeddings → encoder → post_layernorm.
public final class MPlugOwlVisionModel: Module, VisionEncoder {
    public let embeddings: MPlugOwlVisionEmbeddings
    public let encoder: MPlugOwlVisionEncoder
    public let post_layernorm: LayerNorm
    public let config: CLIPVisionConfig

    public init(_ c: CLIPVisionConfig) {
        config = c
        embeddings = MPlugOwlVisionEmbeddings(c)
        encoder = MPlugOwlVisionEncoder(c)
        post_layernorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
    }

    public var featureSize: Int { config.hiddenSize }
    public var tokensPerImage: Int { config.numPositions }

    /// pixels [B, 3, H, W] → every token after post_layernorm [B, 1 + patches, hidden] (the
    /// released model's `last_hidden_state`, which the abstractor reads).
    public func features(_ pixels: Tensor) -> Tensor {
        var h = embeddings(pixels)
        for layer in encoder.layers { h = layer(h) }
        return post_layernorm(h)
    }
}
