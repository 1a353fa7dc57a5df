import VLNN
import VLTensor

// ALBEF's text side (its xbert.py): one BERT whose first `fusion_layer` layers are a text encoder
// (self-attention only) and whose remaining layers are the multimodal encoder (self-attention,
// then cross-attention to the image embeddings, then the feed-forward). Names as ALBEF's
// `text_encoder.bert.*` and `text_encoder.cls.*`.

/// A BERT layer, with `crossattention` (keys/values from `encoderWidth`) in the fusion layers.
public final class ALBEFBertLayer: Module {
    public let attention: BertAttention
    public let crossattention: BertAttention?
    public let intermediate: BertIntermediate
    public let output: BertSublayerOutput

    init(_ c: BertConfig, crossAttentionWidth: Int?) throws {
        attention = BertAttention(hidden: c.hiddenSize, heads: c.numAttentionHeads, eps: c.layerNormEps)
        crossattention = crossAttentionWidth.map {
            BertAttention(hidden: c.hiddenSize, heads: c.numAttentionHeads, eps: c.layerNormEps, keyValueWidth: $0)
        }
        intermediate = BertIntermediate(c.hiddenSize, c.intermediateSize, activation: try Activation(name: c.hiddenAct))
        output = BertSublayerOutput(c.intermediateSize, c.hiddenSize, eps: c.layerNormEps)
    }

    func callAsFunction(_ x: Tensor, keyPadding: Tensor?, image: Tensor?) -> Tensor {
        var h = attention(x, keyPadding: keyPadding)
        if let crossattention {
            guard let image else { preconditionFailure("ALBEF fusion layer needs image embeddings") }
            h = crossattention(h, context: image)
        }
        return captured(output(intermediate(h), residual: h))
    }
}

public final class ALBEFBertEncoder: Module {
    public let layer: [ALBEFBertLayer]

    init(_ c: BertConfig, fusionLayer: Int, encoderWidth: Int) throws {
        layer = try (0..<c.numHiddenLayers).map {
            try ALBEFBertLayer(c, crossAttentionWidth: $0 >= fusionLayer ? encoderWidth : nil)
        }
    }
}

/// xbert `BertModel` without pooler, run in ALBEF's three modes.
public final class ALBEFBertModel: Module {
    public let embeddings: BertEmbeddings
    public let encoder: ALBEFBertEncoder
    public let fusionLayer: Int

    init(_ c: BertConfig, fusionLayer: Int, encoderWidth: Int) throws {
        precondition(
            fusionLayer <= c.numHiddenLayers, "fusion_layer \(fusionLayer) exceeds the \(c.numHiddenLayers) layers")
        embeddings = BertEmbeddings(c)
        encoder = try ALBEFBertEncoder(c, fusionLayer: fusionLayer, encoderWidth: encoderWidth)
        self.fusionLayer = fusionLayer
    }

    /// mode "text": ids [B, L], attentionMask [B, L] → unimodal text embeddings [B, L, hidden].
    public func text(_ ids: Tensor, attentionMask: Tensor) -> Tensor {
        run(embeddings(ids), layers: 0..<fusionLayer, attentionMask: attentionMask, image: nil)
    }

    /// mode "fusion": text embeddings (from `text`) cross-attend to image embeddings [B, N, width].
    public func fusion(_ text: Tensor, attentionMask: Tensor, image: Tensor) -> Tensor {
        run(text, layers: fusionLayer..<encoder.layer.count, attentionMask: attentionMask, image: image)
    }

    /// mode "multi_modal": both halves in one pass (what MLM uses).
    public func multimodal(_ ids: Tensor, attentionMask: Tensor, image: Tensor) -> Tensor {
        fusion(text(ids, attentionMask: attentionMask), attentionMask: attentionMask, image: image)
    }

    private func run(_ x: Tensor, layers: Range<Int>, attentionMask: Tensor, image: Tensor?) -> Tensor {
        var h = x
        for i in layers { h = encoder.layer[i](h, keyPadding: attentionMask, image: image) }
        return h
    }
}

/// xbert `BertForMaskedLM`: `bert` and the tied MLM head `cls`.
public final class ALBEFBertForMaskedLM: Module {
    public let bert: ALBEFBertModel
    public let cls: BertOnlyMLMHead

    init(_ c: BertConfig, fusionLayer: Int, encoderWidth: Int) throws {
        bert = try ALBEFBertModel(c, fusionLayer: fusionLayer, encoderWidth: encoderWidth)
        cls = BertOnlyMLMHead(
            wordEmbeddings: bert.embeddings.word_embeddings, activation: try Activation(name: c.hiddenAct),
            eps: c.layerNormEps)
    }

    /// Masked ids [B, L] with the image → vocabulary logits [B, L, vocab].
    public func mlmLogits(_ ids: Tensor, attentionMask: Tensor, image: Tensor) -> Tensor {
        cls(bert.multimodal(ids, attentionMask: attentionMask, image: image))
    }
}
