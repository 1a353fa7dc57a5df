import Foundation
import VLNN
import VLTensor

/// HF `CLIPModel`: two towers, linear projections without bias into a shared space, and a learned
/// temperature (`logit_scale`, stored as a log).
public final class CLIPModel: Module {
    public let text_model: CLIPTextTransformer
    public let vision_model: CLIPVisionTransformer
    public let visual_projection: Linear
    public let text_projection: Linear
    public let logit_scale: Parameter
    public let config: CLIPConfig

    public init(_ c: CLIPConfig) throws {
        config = c
        text_model = try CLIPTextTransformer(c.text)
        vision_model = try CLIPVisionTransformer(c.vision)
        visual_projection = Linear(c.vision.hiddenSize, c.projectionDim, bias: false)
        text_projection = Linear(c.text.hiddenSize, c.projectionDim, bias: false)
        logit_scale = Parameter(Tensor.scalar(c.logitScaleInitValue))
    }

    /// Projected, not normalised, image features [B, projectionDim].
    public func imageFeatures(_ pixels: Tensor) -> Tensor { visual_projection(vision_model.pooled(pixels)) }

    /// Projected, not normalised, text features [B, projectionDim].
    public func textFeatures(_ ids: Tensor, attentionMask: Tensor? = nil) -> Tensor {
        text_projection(text_model.pooled(ids, attentionMask: attentionMask))
    }

    public struct Output {
        public let imageEmbeds: Tensor  // L2-normalised
        public let textEmbeds: Tensor  // L2-normalised
        public let logitsPerImage: Tensor  // [images, texts]
        public let logitsPerText: Tensor  // [texts, images]
    }

    public func callAsFunction(pixels: Tensor, ids: Tensor, attentionMask: Tensor? = nil) -> Output {
        let image = imageFeatures(pixels).l2Normalized()
        let text = textFeatures(ids, attentionMask: attentionMask).l2Normalized()
        let logitsPerText = matmul(text, image.mT) * logit_scale.value.exp()
        return Output(
            imageEmbeds: image, textEmbeds: text, logitsPerImage: logitsPerText.mT, logitsPerText: logitsPerText)
    }
}

extension CLIPModel {
    /// Keeps the learned temperature within [0, ln 100] after an optimiser step, as CLIP's training
    /// does (so logits are scaled by at most 100).
    public func clampLogitScale(max: Float = 100) {
        let p = logit_scale.value.mutablePointer
        p[0] = Swift.min(Swift.max(p[0], 0), Foundation.log(max))
    }
}

/// CLIP's symmetric InfoNCE loss over a batch of matching pairs (seed 001's pseudo-code):
/// the mean of cross-entropy over rows and over columns of the [N, N] logits.
public func contrastiveLoss(logitsPerText: Tensor) -> Tensor {
    let n = logitsPerText.shape[0]
    let labels = Tensor(ints: Array(0..<n))
    return (crossEntropy(logitsPerText, labels) + crossEntropy(logitsPerText.mT, labels)) / 2
}
