import VLNN
import VLTensor

// The Q-Former of BLIP-2: learned queries pass through BERT-style layers; every
// `cross_attention_frequency`-th layer also cross-attends to the image features.

/// BERT attention block with the Q-Former's names: `attention.{query,key,value}`, `output.{dense,LayerNorm}`.
public final class QFormerAttention: Module {
    public let attention: BertSelfAttention
    public let output: BertSublayerOutput

    init(hidden: Int, heads: Int, eps: Float, keyValueWidth: Int? = nil) {
        attention = BertSelfAttention(hidden: hidden, heads: heads, keyValueWidth: keyValueWidth)
        output = BertSublayerOutput(hidden, hidden, eps: eps)
    }

    func callAsFunction(_ x: Tensor, context: Tensor? = nil, mask: Tensor? = nil, keyPadding: Tensor? = nil) -> Tensor {
        output(attention(x, context: context, keyPadding: keyPadding, mask: mask), residual: x)
    }
}

/// One Q-Former layer over a sequence of queries followed by text tokens. Self-attention spans the
/// whole sequence (as the mask allows); only the queries cross-attend to the image, and queries and
/// text have separate feed-forwards (`*_query` for queries, `intermediate`/`output` for text).
public final class QFormerLayer: Module {
    public let attention: QFormerAttention
    public let crossattention: QFormerAttention?
    public let intermediate: BertIntermediate?
    public let output: BertSublayerOutput?
    public let intermediate_query: BertIntermediate
    public let output_query: BertSublayerOutput

    init(_ c: QFormerConfig, index: Int) throws {
        let activation = try Activation(name: c.hiddenAct)
        attention = QFormerAttention(hidden: c.hiddenSize, heads: c.numAttentionHeads, eps: c.layerNormEps)
        crossattention =
            index % c.crossAttentionFrequency == 0
            ? QFormerAttention(
                hidden: c.hiddenSize, heads: c.numAttentionHeads, eps: c.layerNormEps,
                keyValueWidth: c.encoderHiddenSize)
            : nil
        intermediate =
            c.useQformerTextInput ? BertIntermediate(c.hiddenSize, c.intermediateSize, activation: activation) : nil
        output = c.useQformerTextInput ? BertSublayerOutput(c.intermediateSize, c.hiddenSize, eps: c.layerNormEps) : nil
        intermediate_query = BertIntermediate(c.hiddenSize, c.intermediateSize, activation: activation)
        output_query = BertSublayerOutput(c.intermediateSize, c.hiddenSize, eps: c.layerNormEps)
    }

    /// x [B, queryLength + text, hidden]; image [B, N, encoderHidden] when there are queries.
    func callAsFunction(_ x: Tensor, queryLength: Int, image: Tensor?, mask: Tensor?, keyPadding: Tensor?) -> Tensor {
        let h = attention(x, mask: mask, keyPadding: keyPadding)
        let textLength = h.shape[1] - queryLength
        guard queryLength > 0 else { return captured(textFeedForward(h)) }
        var queries = h.narrow(1, start: 0, length: queryLength)
        if let crossattention {
            guard let image else { preconditionFailure("Q-Former cross-attention layer needs image features") }
            queries = crossattention(queries, context: image)
        }
        let out = output_query(intermediate_query(queries), residual: queries)
        guard textLength > 0 else { return captured(out) }
        return captured(cat([out, textFeedForward(h.narrow(1, start: queryLength, length: textLength))], dim: 1))
    }

    private func textFeedForward(_ h: Tensor) -> Tensor {
        guard let intermediate, let output else {
            preconditionFailure("this Q-Former has no text feed-forward (use_qformer_text_input is false)")
        }
        return output(intermediate(h), residual: h)
    }
}

public final class QFormerEncoder: Module {
    public let layer: [QFormerLayer]
    init(_ c: QFormerConfig) throws { layer = try (0..<c.numHiddenLayers).map { try QFormerLayer(c, index: $0) } }
}

/// HF `Blip2QFormerModel`: LayerNorm on the input embeddings (queries, then text), then the layers.
public final class QFormerModel: Module {
    public let layernorm: LayerNorm
    public let encoder: QFormerEncoder

    public init(_ c: QFormerConfig) throws {
        layernorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        encoder = try QFormerEncoder(c)
    }

    /// queries [B, Q, hidden] attend to image features [B, N, encoderHidden] → [B, Q, hidden].
    public func callAsFunction(queries: Tensor, image: Tensor) -> Tensor {
        self(queries, queryLength: queries.shape[1], image: image)
    }

    /// embeddings [B, queryLength + text, hidden] (queries first) → last hidden state. `mask` is
    /// additive over [B, 1, L, L] (e.g. the captioning mask); `keyPadding` [B, L] is 1 for real tokens.
    public func callAsFunction(
        _ embeddings: Tensor, queryLength: Int, image: Tensor?, mask: Tensor? = nil,
        keyPadding: Tensor? = nil
    ) -> Tensor {
        var h = layernorm(embeddings)
        for layer in encoder.layer {
            h = layer(h, queryLength: queryLength, image: image, mask: mask, keyPadding: keyPadding)
        }
        return h
    }
}
