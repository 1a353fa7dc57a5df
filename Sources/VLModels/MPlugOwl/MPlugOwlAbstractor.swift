import VLNN
import VLTensor

// The released visual abstractor (`MplugOwlVisualAbstractorModel` in X-PLUG/mPLUG-Owl's
// modeling_mplug_owl.py). Each layer normalises the queries (`norm1`) and the image tokens
// (`normk`), lets the normalised queries attend to [normalised queries; normalised image] with
// unmasked softmax attention, adds `out_proj` of the result to the normalised queries, then a
// pre-norm (`norm2`) SwiGLU feed-forward block with a layernorm (`ffn_ln`) on its hidden width.
// After the layers `visual_fc` maps to the language model's width and the learned `vit_eos`
// token is appended: Q queries give Q + 1 tokens.

/// `visual_abstractor_config` (`MplugOwlVisualAbstractorConfig`) and the top-level `num_query_tokens`.
public struct MPlugOwlAbstractorConfig: Equatable {
    public var hiddenSize = 1024
    public var numHiddenLayers = 6
    public var numAttentionHeads = 16
    /// The SwiGLU width; nil: 4 × hiddenSize.
    public var intermediateSize: Int?
    /// `ffn_ln`'s epsilon; the other norms use LayerNorm's default 1e-5, as released.
    public var layerNormEps: Float = 1e-6
    public var numQueryTokens = 64

    public init() {}

    public var resolvedIntermediateSize: Int { intermediateSize ?? 4 * hiddenSize }
}

/// `attention.{query, key, value}`: projections only; the output projection lives in `output`.
public final class MPlugOwlAbstractorAttention: Module {
    public let query, key, value: Linear
    let heads: Int

    init(_ c: MPlugOwlAbstractorConfig) {
        (query, key, value) = (
            Linear(c.hiddenSize, c.hiddenSize), Linear(c.hiddenSize, c.hiddenSize), Linear(c.hiddenSize, c.hiddenSize)
        )
        heads = c.numAttentionHeads
    }

    /// queries [B, Q, hidden] attend to memory [B, M, hidden] → [B, Q, hidden] (heads merged).
    func callAsFunction(_ queries: Tensor, memory: Tensor) -> Tensor {
        mergeHeads(
            scaledDotProductAttention(
                splitHeads(query(queries), heads), splitHeads(key(memory), heads),
                splitHeads(value(memory), heads)))
    }
}

/// `mlp`: w2(ffn_ln(silu(w1 x) · w3 x)).
public final class MPlugOwlAbstractorMLP: Module {
    public let w1, w2, w3: Linear
    public let ffn_ln: LayerNorm

    init(_ c: MPlugOwlAbstractorConfig) {
        let inner = c.resolvedIntermediateSize
        (w1, w2, w3) = (Linear(c.hiddenSize, inner), Linear(inner, c.hiddenSize), Linear(c.hiddenSize, inner))
        ffn_ln = LayerNorm(inner, eps: c.layerNormEps)
    }

    func callAsFunction(_ x: Tensor) -> Tensor { w2(ffn_ln(w1(x).silu() * w3(x))) }
}

/// `output`: the attention's `out_proj` added to the residual, then `mlp` on `norm2` of that.
public final class MPlugOwlAbstractorOutput: Module {
    public let out_proj: Linear
    public let norm2: LayerNorm
    public let mlp: MPlugOwlAbstractorMLP

    init(_ c: MPlugOwlAbstractorConfig) {
        out_proj = Linear(c.hiddenSize, c.hiddenSize)
        norm2 = LayerNorm(c.hiddenSize)
        mlp = MPlugOwlAbstractorMLP(c)
    }

    func callAsFunction(_ attended: Tensor, residual: Tensor) -> Tensor {
        let h = residual + out_proj(attended)
        return h + mlp(norm2(h))
    }
}

/// `crossattention` of one layer.
public final class MPlugOwlAbstractorCrossAttention: Module {
    public let attention: MPlugOwlAbstractorAttention
    public let output: MPlugOwlAbstractorOutput
    public let norm1, normk: LayerNorm

    init(_ c: MPlugOwlAbstractorConfig) {
        attention = MPlugOwlAbstractorAttention(c)
        output = MPlugOwlAbstractorOutput(c)
        (norm1, normk) = (LayerNorm(c.hiddenSize), LayerNorm(c.hiddenSize))
    }

    /// The residual is the normalised queries, as released.
    func callAsFunction(_ queries: Tensor, image: Tensor) -> Tensor {
        let q = norm1(queries)
        return captured(output(attention(q, memory: cat([q, normk(image)], dim: 1)), residual: q))
    }
}

public final class MPlugOwlAbstractorLayer: Module {
    public let crossattention: MPlugOwlAbstractorCrossAttention
    init(_ c: MPlugOwlAbstractorConfig) { crossattention = MPlugOwlAbstractorCrossAttention(c) }
}

public final class MPlugOwlAbstractorEncoder: Module {
    public let layers: [MPlugOwlAbstractorLayer]
    init(_ c: MPlugOwlAbstractorConfig) { layers = (0..<c.numHiddenLayers).map { _ in MPlugOwlAbstractorLayer(c) } }
}

/// `abstractor.*`: the layers, `visual_fc` and `vit_eos` [1, 1, outputWidth]. The queries
/// (`query_tokens`) belong to the owner, as in the released model.
public final class MPlugOwlVisualAbstractorModel: Module {
    public let encoder: MPlugOwlAbstractorEncoder
    public let visual_fc: Linear
    public let vit_eos: Parameter

    public init(_ c: MPlugOwlAbstractorConfig, outputWidth: Int) {
        encoder = MPlugOwlAbstractorEncoder(c)
        visual_fc = Linear(c.hiddenSize, outputWidth)
        vit_eos = Parameter(Init.normal([1, 1, outputWidth], std: 0.02))
    }

    /// queries [B, Q, hidden], image [B, N, hidden] → [B, Q + 1, outputWidth].
    public func callAsFunction(queries: Tensor, image: Tensor) -> Tensor {
        var h = queries
        for layer in encoder.layers { h = layer.crossattention(h, image: image) }
        let b = h.shape[0], width = visual_fc.weight.shape[0]
        return captured(cat([visual_fc(h), vit_eos.value.expand([b, 1, width])], dim: 1))
    }
}
