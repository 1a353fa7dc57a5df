import VLNN
import VLTensor

// ALBEF's image encoder: a ViT-B/16 as in timm / DeiT (pre-norm blocks, fused qkv with bias,
// LayerNorm eps 1e-6), with ALBEF's parameter names (`visual_encoder.*`).

/// The ViT's shape (defaults: ALBEF's ViT-B/16 at 256 px).
public struct ALBEFVisionConfig: Equatable {
    public var imageSize = 256
    public var patchSize = 16
    public var hiddenSize = 768
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var mlpRatio = 4
    public var layerNormEps: Float = 1e-6

    public init() {}
    public var numPositions: Int { (imageSize / patchSize) * (imageSize / patchSize) + 1 }
}

/// timm `PatchEmbed`: a strided convolution named `proj`.
public final class PatchEmbed: Module {
    public let proj: Conv2d
    init(_ c: ALBEFVisionConfig) { proj = Conv2d(3, c.hiddenSize, kernel: c.patchSize, stride: c.patchSize) }
    /// pixels [B, 3, H, W] → patches [B, N, hidden].
    func callAsFunction(_ pixels: Tensor) -> Tensor { proj(pixels).flatten(from: 2).transpose(1, 2) }
}

/// timm `Attention`: one `qkv` projection and an output `proj`.
public final class ViTAttention: Module {
    public let qkv: Linear
    public let proj: Linear
    let heads: Int

    init(_ c: ALBEFVisionConfig) {
        qkv = Linear(c.hiddenSize, 3 * c.hiddenSize)
        proj = Linear(c.hiddenSize, c.hiddenSize)
        heads = c.numAttentionHeads
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let parts = qkv(x).chunk(3, dim: -1).map { splitHeads($0, heads) }
        return proj(mergeHeads(scaledDotProductAttention(parts[0], parts[1], parts[2])))
    }
}

/// timm `Block`: x + attn(norm1(x)), then + mlp(norm2(x)).
public final class ViTBlock: Module {
    public let norm1: LayerNorm
    public let attn: ViTAttention
    public let norm2: LayerNorm
    public let mlp: MLP

    init(_ c: ALBEFVisionConfig) {
        norm1 = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        attn = ViTAttention(c)
        norm2 = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        mlp = MLP(c.hiddenSize, hidden: c.mlpRatio * c.hiddenSize)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let h = x + attn(norm1(x))
        return captured(h + mlp(norm2(h)))
    }
}

/// ALBEF's `VisionTransformer`: [CLS] + patches + positions → blocks → final `norm`, every token kept.
public final class VisionTransformer: Module, VisionEncoder {
    public let cls_token: Parameter  // [1, 1, hidden]
    public let pos_embed: Parameter  // [1, positions, hidden]
    public let patch_embed: PatchEmbed
    public let blocks: [ViTBlock]
    public let norm: LayerNorm
    public let config: ALBEFVisionConfig

    public init(_ c: ALBEFVisionConfig) {
        config = c
        cls_token = Parameter(Init.normal([1, 1, c.hiddenSize], std: 0.02))
        pos_embed = Parameter(Init.normal([1, c.numPositions, c.hiddenSize], std: 0.02))
        patch_embed = PatchEmbed(c)
        blocks = (0..<c.numHiddenLayers).map { _ in ViTBlock(c) }
        norm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
    }

    public var featureSize: Int { config.hiddenSize }
    public var tokensPerImage: Int { config.numPositions }

    /// pixels [B, 3, H, W] → image embeddings [B, 1 + patches, hidden] ([CLS] first).
    public func features(_ pixels: Tensor) -> Tensor {
        var h = tokensWithClass(patch_embed(pixels), classToken: cls_token.value, positions: pos_embed.value)
        for block in blocks { h = block(h) }
        return norm(h)
    }
}
