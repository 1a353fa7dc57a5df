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

    func callAsFunction(_ x: Tensor, context: Tensor? = nil, mask: Tensor? = nil) -> Tensor {
        output(attention(x, context: context, mask: mask), residual: x)
    }
}

public final class QFormerLayer: Module {
    public let attention: QFormerAttention
    public let crossattention: QFormerAttention?
    public let intermediate_query: BertIntermediate
    public let output_query: BertSublayerOutput

    init(_ c: QFormerConfig, index: Int) throws {
        attention = QFormerAttention(hidden: c.hiddenSize, heads: c.numAttentionHeads, eps: c.layerNormEps)
        crossattention = index % c.crossAttentionFrequency == 0
            ? QFormerAttention(hidden: c.hiddenSize, heads: c.numAttentionHeads, eps: c.layerNormEps,
                               keyValueWidth: c.encoderHiddenSize)
            : nil
        intermediate_query = BertIntermediate(c.hiddenSize, c.intermediateSize, activation: try Activation(name: c.hiddenAct))
        output_query = BertSublayerOutput(c.intermediateSize, c.hiddenSize, eps: c.layerNormEps)
    }

    /// queries [B, Q, hidden], image [B, N, encoderHidden].
    func callAsFunction(_ queries: Tensor, image: Tensor) -> Tensor {
        var h = attention(queries)
        if let crossattention { h = crossattention(h, context: image) }
        return captured(output_query(intermediate_query(h), residual: h))
    }
}

public final class QFormerEncoder: Module {
    public let layer: [QFormerLayer]
    init(_ c: QFormerConfig) throws { layer = try (0..<c.numHiddenLayers).map { try QFormerLayer(c, index: $0) } }
}

/// HF `Blip2QFormerModel` on query embeddings only (the path BLIP-2 generation uses).
public final class QFormerModel: Module {
    public let layernorm: LayerNorm
    public let encoder: QFormerEncoder

    public init(_ c: QFormerConfig) throws {
        layernorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        encoder = try QFormerEncoder(c)
    }

    /// queries [B, Q, hidden] attend to image features [B, N, encoderHidden] → [B, Q, hidden].
    public func callAsFunction(queries: Tensor, image: Tensor) -> Tensor {
        var h = layernorm(queries)
        for layer in encoder.layer { h = layer(h, image: image) }
        return h
    }
}
