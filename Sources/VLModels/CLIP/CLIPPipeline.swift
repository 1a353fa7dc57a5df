import Foundation
import VLFiles
import VLImaging
import VLIO
import VLNN
import VLTensor
import VLTokenizers

/// A CLIP model directory ready to use: model, tokenizer and image processor, as transformers'
/// CLIPModel + CLIPProcessor. Embeddings come back L2-normalised.
public final class CLIPPipeline {
    public let model: CLIPModel
    public let tokenizer: CLIPTokenizer
    public let processor: ImageProcessor
    public let directory: URL

    public init(directory: URL) throws {
        self.directory = directory
        let m = try CLIPModel.load(directory: directory)
        model = m
        tokenizer = try CLIPTokenizer(directory: directory, maxLength: m.config.text.maxPositionEmbeddings)
        processor = try ImageProcessor(directory: directory)
    }

    /// [images, projectionDim], normalised.
    public func imageEmbeddings(_ images: [RGBImage]) -> Tensor {
        noGrad { model.imageFeatures(processor.batch(images)).l2Normalized() }
    }

    /// [texts, projectionDim], normalised. Texts are padded to the longest and truncated to the
    /// model's positions.
    public func textEmbeddings(_ texts: [String]) -> Tensor {
        let lengths = texts.map { Swift.min(tokenizer.encode($0).count, tokenizer.maxLength) }
        let (ids, mask) = tokenizer(texts, padTo: lengths.max() ?? 2)
        let l = ids.first?.count ?? 0
        return noGrad {
            model.textFeatures(
                Tensor(ints: ids.flatMap { $0 }, shape: [texts.count, l]),
                attentionMask: Tensor(mask.flatMap { $0 }.map(Float.init), shape: [texts.count, l])
            ).l2Normalized()
        }
    }

    /// logits_per_image [images, texts] = scale · image · textᵀ.
    public func logitsPerImage(imageEmbeds: Tensor, textEmbeds: Tensor) -> Tensor {
        noGrad { matmul(imageEmbeds, textEmbeds.mT) * model.logit_scale.value.exp() }
    }

    /// Zero-shot classification: each label put into `template` ("{}" marks the label), softmax
    /// over the labels, highest first.
    public func classify(
        _ image: RGBImage, labels: [String], template: String = "a photo of a {}."
    ) -> [(label: String, probability: Float)] {
        let prompts = labels.map { template.replacingOccurrences(of: "{}", with: $0) }
        let logits = logitsPerImage(imageEmbeds: imageEmbeddings([image]), textEmbeds: textEmbeddings(prompts))
        let probs = noGrad { logits.softmax(-1) }.toArray()
        return zip(labels, probs).sorted { $0.1 > $1.1 }.map { ($0.0, $0.1) }
    }
}
