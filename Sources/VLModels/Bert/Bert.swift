import VLFiles
import VLIO
import VLNN
import VLTensor

// BERT as in transformers' modeling_bert: post-norm encoder layers named
// attention.self.{query,key,value}, attention.output.{dense,LayerNorm}, intermediate.dense,
// output.{dense,LayerNorm}. The Q-Former and ALBEF build on these layers.

/// HF `BertConfig`.
public struct BertConfig: Equatable {
    public var vocabSize = 30522
    public var hiddenSize = 768
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var intermediateSize = 3072
    public var hiddenAct = "gelu"
    public var maxPositionEmbeddings = 512
    public var typeVocabSize = 2
    public var layerNormEps: Float = 1e-12
    public var padTokenId = 0

    public init() {}

    public init(_ r: ConfigReader) throws {
        self.init()
        vocabSize = try r.int("vocab_size", vocabSize)
        hiddenSize = try r.int("hidden_size", hiddenSize)
        numHiddenLayers = try r.int("num_hidden_layers", numHiddenLayers)
        numAttentionHeads = try r.int("num_attention_heads", numAttentionHeads)
        intermediateSize = try r.int("intermediate_size", intermediateSize)
        hiddenAct = try r.string("hidden_act", hiddenAct)
        maxPositionEmbeddings = try r.int("max_position_embeddings", maxPositionEmbeddings)
        typeVocabSize = try r.int("type_vocab_size", typeVocabSize)
        layerNormEps = try r.float("layer_norm_eps", layerNormEps)
        padTokenId = try r.int("pad_token_id", padTokenId)
    }
}

public final class BertEmbeddings: Module {
    public let word_embeddings: Embedding
    public let position_embeddings: Embedding
    public let token_type_embeddings: Embedding?
    public let LayerNorm: VLNN.LayerNorm

    public init(_ c: BertConfig, tokenTypes: Bool = true) {
        word_embeddings = Embedding(c.vocabSize, c.hiddenSize)
        position_embeddings = Embedding(c.maxPositionEmbeddings, c.hiddenSize)
        token_type_embeddings = tokenTypes ? Embedding(c.typeVocabSize, c.hiddenSize) : nil
        LayerNorm = VLNN.LayerNorm(c.hiddenSize, eps: c.layerNormEps)
    }

    /// ids [B, L] → LayerNorm(word + position (+ token type 0)).
    public func callAsFunction(_ ids: Tensor, positionOffset: Int = 0) -> Tensor {
        let l = ids.shape[1]
        var x = word_embeddings(ids) + position_embeddings.weight.value.narrow(0, start: positionOffset, length: l)
        if let types = token_type_embeddings { x = x + types.weight.value.select(0, 0) }
        return captured(LayerNorm(x))
    }
}

/// Multi-head attention with BERT's names (`query`, `key`, `value`); keys/values may come from
/// another sequence of another width (cross-attention).
public final class BertSelfAttention: Module {
    public let query, key, value: Linear
    let heads: Int

    public init(hidden: Int, heads: Int, keyValueWidth: Int? = nil) {
        query = Linear(hidden, hidden)
        key = Linear(keyValueWidth ?? hidden, hidden)
        value = Linear(keyValueWidth ?? hidden, hidden)
        self.heads = heads
    }

    public func callAsFunction(
        _ x: Tensor, context: Tensor? = nil, keyPadding: Tensor? = nil, mask: Tensor? = nil
    ) -> Tensor {
        let source = context ?? x
        let o = scaledDotProductAttention(
            splitHeads(query(x), heads), splitHeads(key(source), heads),
            splitHeads(value(source), heads), mask: mask, keyPadding: keyPadding)
        return mergeHeads(o)
    }
}

/// dense → residual → LayerNorm (BERT's post-norm sublayer output).
public final class BertSublayerOutput: Module {
    public let dense: Linear
    public let LayerNorm: VLNN.LayerNorm

    public init(_ inputSize: Int, _ hidden: Int, eps: Float) {
        dense = Linear(inputSize, hidden)
        LayerNorm = VLNN.LayerNorm(hidden, eps: eps)
    }

    public func callAsFunction(_ x: Tensor, residual: Tensor) -> Tensor { LayerNorm(dense(x) + residual) }
}

public final class BertAttention: Module {
    public let `self`: BertSelfAttention
    public let output: BertSublayerOutput

    public init(hidden: Int, heads: Int, eps: Float, keyValueWidth: Int? = nil) {
        self.`self` = BertSelfAttention(hidden: hidden, heads: heads, keyValueWidth: keyValueWidth)
        output = BertSublayerOutput(hidden, hidden, eps: eps)
    }

    public func callAsFunction(
        _ x: Tensor, context: Tensor? = nil, keyPadding: Tensor? = nil, mask: Tensor? = nil
    ) -> Tensor {
        output(self.`self`(x, context: context, keyPadding: keyPadding, mask: mask), residual: x)
    }
}

public final class BertIntermediate: Module {
    public let dense: Linear
    let activation: Activation

    public init(_ hidden: Int, _ intermediate: Int, activation: Activation) {
        dense = Linear(hidden, intermediate)
        self.activation = activation
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { activation(dense(x)) }
}

public final class BertLayer: Module {
    public let attention: BertAttention
    public let intermediate: BertIntermediate
    public let output: BertSublayerOutput

    public init(_ c: BertConfig) throws {
        attention = BertAttention(hidden: c.hiddenSize, heads: c.numAttentionHeads, eps: c.layerNormEps)
        intermediate = BertIntermediate(c.hiddenSize, c.intermediateSize, activation: try Activation(name: c.hiddenAct))
        output = BertSublayerOutput(c.intermediateSize, c.hiddenSize, eps: c.layerNormEps)
    }

    public func callAsFunction(_ x: Tensor, keyPadding: Tensor?) -> Tensor {
        let h = attention(x, keyPadding: keyPadding)
        return captured(output(intermediate(h), residual: h))
    }
}

public final class BertEncoder: Module {
    public let layer: [BertLayer]

    public init(_ c: BertConfig) throws {
        layer = try (0..<c.numHiddenLayers).map { _ in try BertLayer(c) }
    }
}

public final class BertPooler: Module {
    public let dense: Linear
    public init(_ hidden: Int) { dense = Linear(hidden, hidden) }
    public func callAsFunction(_ h: Tensor) -> Tensor { dense(h.select(1, 0)).tanh() }
}

/// HF `BertModel`: embeddings → encoder (→ pooler on [CLS]).
public final class BertModel: Module {
    public let embeddings: BertEmbeddings
    public let encoder: BertEncoder
    public let pooler: BertPooler?
    public let config: BertConfig

    public init(_ c: BertConfig, pooling: Bool = true) throws {
        config = c
        embeddings = BertEmbeddings(c)
        encoder = try BertEncoder(c)
        pooler = pooling ? BertPooler(c.hiddenSize) : nil
    }

    /// ids [B, L], attentionMask [B, L] (1 keep) → last hidden state [B, L, hidden].
    public func callAsFunction(_ ids: Tensor, attentionMask: Tensor? = nil) -> Tensor {
        var h = embeddings(ids)
        for layer in encoder.layer { h = layer(h, keyPadding: attentionMask) }
        return h
    }
}

/// sentence-transformers' mean pooling over real tokens, then L2 normalisation.
public func meanPooledEmbeddings(_ hidden: Tensor, attentionMask: Tensor, normalize: Bool = true) -> Tensor {
    let mask = attentionMask.to(.f32).unsqueeze(-1)
    let pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min: 1e-9)
    return normalize ? pooled.l2Normalized() : pooled
}
