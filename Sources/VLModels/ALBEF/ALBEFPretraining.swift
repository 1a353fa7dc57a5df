import VLNN
import VLTensor

// One ALBEF pretraining step's losses, as `model_pretrain.py` computes them: the EMA teacher is
// updated first, ITC runs against the teacher's batch features and the queues with distilled
// targets, ITM takes one hard negative text per image and one hard negative image per text, MLM
// predicts masked tokens from the image and text with distilled soft labels; then the teacher's
// features enter the queues.

public struct ALBEFLosses {
    public let itc: Tensor
    public let itm: Tensor
    public let mlm: Tensor
    public var total: Tensor { itc + itm + mlm }
}

public final class ALBEFPretraining {
    public let model: ALBEF
    public let momentumModel: ALBEF
    public let imageQueue: FeatureQueue
    public let textQueue: FeatureQueue
    /// The group (caption id) of each queue row, −1 while it holds its initial noise (ALBEF's `idx_queue`).
    public private(set) var groupQueue: [Int]
    private var groupPointer = 0
    public var momentum: Float = 0.995
    public var mlmProbability: Float = 0.15
    public let maskTokenId: Int
    /// Never masked: ALBEF excludes [PAD] and [CLS].
    public let unmaskable: Set<Int>

    /// `queueSize` must be a multiple of the batch size (ALBEF: 65536), or 0: ITC within the batch.
    public init(model: ALBEF, queueSize: Int, maskTokenId: Int, unmaskable: Set<Int>, rng: inout RandomGenerator) throws
    {
        self.model = model
        momentumModel = try model.momentumCopy()
        imageQueue = FeatureQueue(size: queueSize, dim: model.config.embedDim, rng: &rng)
        textQueue = FeatureQueue(size: queueSize, dim: model.config.embedDim, rng: &rng)
        groupQueue = [Int](repeating: -1, count: queueSize)
        self.maskTokenId = maskTokenId
        self.unmaskable = unmaskable
    }

    /// Losses for matching pairs: pixels [B, 3, H, W], ids/attentionMask [B, L]; `alpha` weighs the
    /// teacher's soft targets (ALBEF: 0.4, ramped up over the first epoch). `groups` (one id ≥ 0 per
    /// row, equal for equal captions) makes every pair with the same caption a positive in ITC.
    public func losses(
        pixels: Tensor, ids: Tensor, attentionMask: Tensor, alpha: Float, groups: [Int]? = nil,
        rng: inout RandomGenerator
    ) -> ALBEFLosses {
        let temperature = model.temperature()
        let imageEmbeds = model.imageEmbeds(pixels), imageFeat = model.imageFeature(imageEmbeds)
        let textEmbeds = model.textEmbeds(ids: ids, attentionMask: attentionMask),
            textFeat = model.textFeature(textEmbeds)
        let (imageEmbedsM, imageFeatM, textFeatM) = noGrad {
            momentumUpdate(momentumModel, from: model, momentum: momentum)
            let embeds = momentumModel.imageEmbeds(pixels)
            return (
                embeds, momentumModel.imageFeature(embeds),
                momentumModel.textFeature(momentumModel.textEmbeds(ids: ids, attentionMask: attentionMask))
            )
        }
        let itc = albefContrastiveLoss(
            imageFeatures: imageFeat, textFeatures: textFeat, momentumImage: imageFeatM,
            momentumText: textFeatM, imageQueue: imageQueue.features, textQueue: textQueue.features,
            temperature: temperature, alpha: alpha, groups: groups.map { $0 + groupQueue })
        let itm = matchingLoss(
            imageEmbeds: imageEmbeds, textEmbeds: textEmbeds, attentionMask: attentionMask,
            simI2T: noGrad { matmul(imageFeat, textFeatM.mT) / temperature },
            simT2I: noGrad { matmul(textFeat, imageFeatM.mT) / temperature }, rng: &rng)
        let mlm = maskedLMLoss(
            ids: ids, attentionMask: attentionMask, image: imageEmbeds, momentumImage: imageEmbedsM,
            alpha: alpha, rng: &rng)
        imageQueue.enqueue(imageFeatM)
        textQueue.enqueue(textFeatM)
        if let groups { enqueueGroups(groups) }
        return ALBEFLosses(itc: itc, itm: itm, mlm: mlm)
    }

    /// The batch's groups replace the queue's oldest, in step with `FeatureQueue`.
    private func enqueueGroups(_ groups: [Int]) {
        guard !groupQueue.isEmpty else { return }
        groupQueue.replaceSubrange(groupPointer..<(groupPointer + groups.count), with: groups)
        groupPointer = (groupPointer + groups.count) % groupQueue.count
    }

    /// Positives, then each text with a hard negative image, then each image with a hard negative text.
    private func matchingLoss(
        imageEmbeds: Tensor, textEmbeds: Tensor, attentionMask: Tensor, simI2T: Tensor, simT2I: Tensor,
        rng: inout RandomGenerator
    ) -> Tensor {
        let b = imageEmbeds.shape[0], identity = Array(0..<b)
        let (textForImage, imageForText) = sampleHardNegatives(simI2T: simI2T, simT2I: simT2I, rng: &rng)
        let texts = cat([textEmbeds, textEmbeds, textEmbeds.indexSelect(0, textForImage)], dim: 0)
        let masks = rows(attentionMask, identity + identity + textForImage)
        let images = cat([imageEmbeds, imageEmbeds.indexSelect(0, imageForText), imageEmbeds], dim: 0)
        let logits = model.matchingLogits(textEmbeds: texts, attentionMask: masks, image: images)
        return crossEntropy(logits, Tensor(ints: [Int](repeating: 1, count: b) + [Int](repeating: 0, count: 2 * b)))
    }

    private func maskedLMLoss(
        ids: Tensor, attentionMask: Tensor, image: Tensor, momentumImage: Tensor, alpha: Float,
        rng: inout RandomGenerator
    ) -> Tensor {
        let (b, l) = (ids.shape[0], ids.shape[1]), tokens = ids.toInts()
        var input: [Int] = [], labels: [Int] = []
        for r in 0..<b {
            let masked = maskTokens(
                Array(tokens[(r * l)..<(r * l + l)]), vocabSize: model.config.bert.vocabSize, maskId: maskTokenId,
                special: unmaskable, probability: mlmProbability, rng: &rng)
            input += masked.input
            labels += masked.labels
        }
        let maskedIds = Tensor(ints: input, shape: [b, l])
        let logits = model.maskedLMLogits(ids: maskedIds, attentionMask: attentionMask, image: image)
        let teacher = noGrad {
            momentumModel.maskedLMLogits(ids: maskedIds, attentionMask: attentionMask, image: momentumImage)
        }
        return distilledMaskedLMLoss(logits: logits, labels: labels, momentumLogits: teacher, alpha: alpha)
    }
}
