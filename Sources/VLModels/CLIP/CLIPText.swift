import VLNN
import VLTensor

/// Token plus learned position embeddings.
public final class CLIPTextEmbeddings: Module {
    public let token_embedding: Embedding
    public let position_embedding: Embedding

    public init(_ c: CLIPTextConfig) {
        token_embedding = Embedding(c.vocabSize, c.hiddenSize)
        position_embedding = Embedding(c.maxPositionEmbeddings, c.hiddenSize)
    }

    /// ids [B, L] → [B, L, hidden].
    public func callAsFunction(_ ids: Tensor) -> Tensor {
        let l = ids.shape[1]
        precondition(
            l <= position_embedding.weight.shape[0],
            "\(l) tokens exceed the model's \(position_embedding.weight.shape[0]) positions")
        return captured(token_embedding(ids) + position_embedding.weight.value.narrow(0, start: 0, length: l))
    }
}

/// The CLIP text transformer (`text_model.*`): causal encoder, final_layer_norm, and pooling at
/// the end-of-text token.
public final class CLIPTextTransformer: Module {
    public let embeddings: CLIPTextEmbeddings
    public let encoder: CLIPEncoder
    public let final_layer_norm: LayerNorm
    public let config: CLIPTextConfig

    public init(_ c: CLIPTextConfig) throws {
        config = c
        embeddings = CLIPTextEmbeddings(c)
        encoder = CLIPEncoder(
            hidden: c.hiddenSize, heads: c.numAttentionHeads, intermediate: c.intermediateSize,
            layers: c.numHiddenLayers, activation: try Activation(name: c.hiddenAct), eps: c.layerNormEps)
        final_layer_norm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
    }

    public struct Output {
        public let lastHiddenState: Tensor
        public let pooled: Tensor
        public let hiddenStates: [Tensor]
    }

    /// ids [B, L] (i64), attentionMask [B, L] (1 keep, 0 padding) optional.
    public func callAsFunction(_ ids: Tensor, attentionMask: Tensor? = nil, outputHiddenStates: Bool = false) -> Output
    {
        let (h, states) = encoder(
            embeddings(ids), causal: true, keyPadding: attentionMask,
            collectHiddenStates: outputHiddenStates)
        let last = final_layer_norm(h)
        let rows = endOfTextPositions(ids)
        let b = ids.shape[0], l = ids.shape[1]
        let pooled = last.reshape([b * l, -1]).indexSelect(0, rows.enumerated().map { $0.offset * l + $0.element })
        return Output(lastHiddenState: last, pooled: pooled, hiddenStates: states)
    }

    /// The pooled output alone [B, hidden] (the same values as `callAsFunction(…).pooled`): the last
    /// layer runs only at the end-of-text rows.
    public func pooled(_ ids: Tensor, attentionMask: Tensor? = nil) -> Tensor {
        let rows = endOfTextPositions(ids)
        let h = encoder.pooledRows(embeddings(ids), rows: rows, causal: true, keyPadding: attentionMask)
        return final_layer_norm(h.reshape([ids.shape[0], -1]))
    }

    /// Where each sequence is pooled, exactly as transformers: the largest id when the config's
    /// eos id is 2 (legacy checkpoints), otherwise the first occurrence of the eos id.
    func endOfTextPositions(_ ids: Tensor) -> [Int] {
        let l = ids.shape[1], values = ids.toInts()
        return (0..<ids.shape[0]).map { r in
            let row = values[r * l..<(r + 1) * l]
            if config.eosTokenId == 2 {
                var best = row.startIndex
                for i in row.indices where row[i] > row[best] { best = i }  // first maximum, as argmax
                return best - r * l
            }
            return (row.firstIndex(of: config.eosTokenId) ?? row.startIndex) - r * l
        }
    }
}
