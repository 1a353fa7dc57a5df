import VLNN
import VLTensor

/// Patch embedding (a conv with kernel = stride = patch, no bias), a learned class token and
/// learned position embeddings.
public final class CLIPVisionEmbeddings: Module {
    public let class_embedding: Parameter
    public let patch_embedding: Conv2d
    public let position_embedding: Embedding

    public init(_ c: CLIPVisionConfig) {
        class_embedding = Parameter(Init.normal([c.hiddenSize], std: 0.02))
        patch_embedding = Conv2d(c.numChannels, c.hiddenSize, kernel: c.patchSize, stride: c.patchSize, bias: false)
        position_embedding = Embedding(c.numPositions, c.hiddenSize)
    }

    /// pixels [B, 3, H, W] → [B, 1 + patches, hidden].
    public func callAsFunction(_ pixels: Tensor) -> Tensor {
        let patches = patch_embedding(pixels).flatten(from: 2).transpose(1, 2)  // [B, N, hidden]
        let b = pixels.shape[0], hidden = patches.shape[2]
        let cls = class_embedding.value.reshape([1, 1, hidden]).expand([b, 1, hidden])
        let tokens = cat([cls, patches], dim: 1)
        precondition(
            tokens.shape[1] == position_embedding.weight.shape[0],
            "image gives \(tokens.shape[1]) tokens; the model has \(position_embedding.weight.shape[0]) positions")
        return captured(tokens + position_embedding.weight.value)
    }
}

/// The CLIP vision transformer (`vision_model.*`): embeddings → pre_layrnorm → encoder, and the
/// class token through post_layernorm as the pooled output.
public final class CLIPVisionTransformer: Module {
    public let embeddings: CLIPVisionEmbeddings
    public let pre_layrnorm: LayerNorm  // sic: the checkpoint's spelling
    public let encoder: CLIPEncoder
    public let post_layernorm: LayerNorm
    public let config: CLIPVisionConfig

    public init(_ c: CLIPVisionConfig) throws {
        config = c
        embeddings = CLIPVisionEmbeddings(c)
        pre_layrnorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        encoder = CLIPEncoder(
            hidden: c.hiddenSize, heads: c.numAttentionHeads, intermediate: c.intermediateSize,
            layers: c.numHiddenLayers, activation: try Activation(name: c.hiddenAct), eps: c.layerNormEps)
        post_layernorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
    }

    public struct Output {
        public let lastHiddenState: Tensor
        public let pooled: Tensor
        /// Input of each layer then the final output (HF `hidden_states`); empty unless asked for.
        public let hiddenStates: [Tensor]
    }

    public func callAsFunction(_ pixels: Tensor, outputHiddenStates: Bool = false) -> Output {
        let x = pre_layrnorm(embeddings(pixels))
        let (last, states) = encoder(x, collectHiddenStates: outputHiddenStates)
        let pooled = post_layernorm(last.select(1, 0))
        return Output(lastHiddenState: last, pooled: pooled, hiddenStates: states)
    }

    /// The pooled output alone [B, hidden] (the same values as `callAsFunction(…).pooled`): the last
    /// layer runs only at the class token.
    public func pooled(_ pixels: Tensor) -> Tensor {
        let x = pre_layrnorm(embeddings(pixels))
        let h = encoder.pooledRows(x, rows: Array(repeating: 0, count: x.shape[0]))
        return post_layernorm(h.reshape([x.shape[0], -1]))
    }
}
