import Foundation
import VLModels
import VLNN
import VLTensor

/// The frozen image encoder BLIP-2 starts from, pre-trained on the world. The paper takes EVA-CLIP's
/// ViT-g: a ViT trained contrastively against a text tower. A CLIP checkpoint cannot stand in for it
/// exactly — transformers' `Blip2VisionModel` has no pre-LayerNorm, a fused `qkv` with q/v biases
/// and a patch convolution with a bias — so this stage does EVA-CLIP's part itself: a
/// `Blip2VisionModel` (class-token output as the image embedding) and a CLIP text transformer are
/// trained from scratch with CLIP's loss on the world's captions (with shape-twin hard negatives,
/// as the clip recipe), and the vision tower alone is kept.
public final class Blip2VisionContrastive: Module, ContrastiveTowers {
    public let vision_model: Blip2VisionModel
    public let text_model: CLIPTextTransformer
    public let visual_projection: Linear
    public let text_projection: Linear
    public let logit_scale: Parameter

    public init(vision: Blip2VisionConfig, text: CLIPTextConfig, projectionDim: Int) throws {
        vision_model = try Blip2VisionModel(vision)
        text_model = try CLIPTextTransformer(text)
        visual_projection = Linear(vision.hiddenSize, projectionDim, bias: false)
        text_projection = Linear(text.hiddenSize, projectionDim, bias: false)
        logit_scale = Parameter(Tensor.scalar(Foundation.log(1 / 0.07)))
    }

    /// A world-sized tower: the clip recipe's ViT shape (4 layers of 128, 16-pixel patches).
    public static func worldVisionConfig(imageSize: Int = 64, hidden: Int = 128, layers: Int = 4) -> Blip2VisionConfig {
        var c = Blip2VisionConfig()
        c.hiddenSize = hidden
        c.intermediateSize = hidden * 4
        c.numHiddenLayers = layers
        c.numAttentionHeads = max(1, hidden / 32)
        c.imageSize = imageSize
        c.patchSize = imageSize / 4
        return c
    }

    public var textLength: Int { text_model.config.maxPositionEmbeddings }

    /// Image embeddings [B, projectionDim]: the class token of the last hidden state (after post_layernorm).
    public func imageFeatures(_ pixels: Tensor) -> Tensor {
        visual_projection(vision_model.features(pixels).select(1, 0))
    }

    public func logitsPerText(pixels: Tensor, ids: Tensor, attentionMask: Tensor) -> Tensor {
        let image = imageFeatures(pixels).l2Normalized()
        let text = text_projection(text_model(ids, attentionMask: attentionMask).pooled).l2Normalized()
        return matmul(text, image.mT) * logit_scale.value.exp()
    }

    public func clampLogitScale(max: Float) {
        let p = logit_scale.value.mutablePointer
        p[0] = Swift.min(Swift.max(p[0], 0), Foundation.log(max))
    }
}
