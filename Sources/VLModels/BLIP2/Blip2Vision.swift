import Foundation
import VLFiles
import VLIO
import VLNN
import VLTensor

/// Patch conv with bias, class token and position table stored as bare parameters.
public final class Blip2VisionEmbeddings: Module {
    public let class_embedding: Parameter  // [1, 1, hidden]
    public let patch_embedding: Conv2d
    public let position_embedding: Parameter  // [1, positions, hidden]

    init(_ c: Blip2VisionConfig) {
        class_embedding = Parameter(Init.normal([1, 1, c.hiddenSize], std: 0.02))
        patch_embedding = Conv2d(3, c.hiddenSize, kernel: c.patchSize, stride: c.patchSize)
        position_embedding = Parameter(Init.normal([1, c.numPositions, c.hiddenSize], std: 0.02))
    }

    func callAsFunction(_ pixels: Tensor) -> Tensor {
        captured(
            patchTokens(
                pixels, conv: patch_embedding, classToken: class_embedding.value, positions: position_embedding.value))
    }
}

/// Self-attention with one fused `qkv` projection and an output `projection`.
public final class Blip2Attention: Module {
    public let qkv: Linear
    public let projection: Linear
    let heads: Int

    init(_ c: Blip2VisionConfig) {
        qkv = Linear(c.hiddenSize, 3 * c.hiddenSize, bias: c.qkvBias)
        projection = Linear(c.hiddenSize, c.hiddenSize)
        heads = c.numAttentionHeads
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let parts = qkv(x).chunk(3, dim: -1).map { splitHeads($0, heads) }
        return projection(mergeHeads(scaledDotProductAttention(parts[0], parts[1], parts[2])))
    }
}

public final class Blip2EncoderLayer: Module {
    public let self_attn: Blip2Attention
    public let layer_norm1: LayerNorm
    public let mlp: MLP
    public let layer_norm2: LayerNorm

    init(_ c: Blip2VisionConfig) throws {
        self_attn = Blip2Attention(c)
        layer_norm1 = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        mlp = MLP(c.hiddenSize, hidden: c.intermediateSize, activation: try Activation(name: c.hiddenAct))
        layer_norm2 = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let h = x + self_attn(layer_norm1(x))
        return captured(h + mlp(layer_norm2(h)))
    }
}

public final class Blip2VisionEncoder: Module {
    public let layers: [Blip2EncoderLayer]
    init(_ c: Blip2VisionConfig) throws { layers = try (0..<c.numHiddenLayers).map { _ in try Blip2EncoderLayer(c) } }
}

/// HF `Blip2VisionModel`: no pre-norm; `post_layernorm` on every output token.
public final class Blip2VisionModel: Module, VisionEncoder {
    public let embeddings: Blip2VisionEmbeddings
    public let encoder: Blip2VisionEncoder
    public let post_layernorm: LayerNorm
    public let config: Blip2VisionConfig

    public init(_ c: Blip2VisionConfig) throws {
        config = c
        embeddings = Blip2VisionEmbeddings(c)
        encoder = try Blip2VisionEncoder(c)
        post_layernorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
    }

    /// Reads a transformers `Blip2VisionModel` directory (model_type `blip_2_vision_model`).
    public static func load(_ directory: URL) throws -> Blip2VisionModel {
        let dir = try ModelDirectory(directory)
        let r = dir.config, type = dir.modelType
        guard type == "blip_2_vision_model" else {
            throw ConfigError(
                "\(dir.configPath): model_type is \"\(type)\", expected \"blip_2_vision_model\" (a BLIP-2 vision tower)"
            )
        }
        let model = try Init.skipping { try Blip2VisionModel(Blip2VisionConfig(r)) }
        try loadWeights(into: model, from: dir)
        model.eval()
        return model
    }

    public var featureSize: Int { config.hiddenSize }
    public var tokensPerImage: Int { config.numPositions }

    /// pixels [B, 3, H, W] → last hidden state after post_layernorm [B, 1 + patches, hidden].
    public func features(_ pixels: Tensor) -> Tensor {
        var h = embeddings(pixels)
        for layer in encoder.layers { h = layer(h) }
        return post_layernorm(h)
    }
}
