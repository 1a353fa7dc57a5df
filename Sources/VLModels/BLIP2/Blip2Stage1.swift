import VLNN
import VLTensor

// BLIP-2's stage-1 losses as LAVIS's `Blip2Qformer.forward` computes them for one batch of matching
// image–text pairs (in-batch negatives, one device): ITC with label smoothing 0.1, ITM on
// (pos, pos, neg) texts × (pos, neg, pos) images with hard negatives drawn from the ITC
// similarities, ITG as shifted next-token cross-entropy with label smoothing 0.1.

/// The three stage-1 losses; `total` is their sum, as LAVIS trains.
public struct Blip2Stage1Losses {
    public let itc: Tensor
    public let itm: Tensor
    public let itg: Tensor
    public var total: Tensor { itc + itm + itg }
}

/// ITC: image i and text i match; sims are query–text maxima over `temperature`.
/// Returns the loss and the (detached) scaled similarities ITM draws its hard negatives from.
public func blip2ContrastiveLoss(
    imageEmbeds: Tensor, textEmbeds: Tensor, temperature: Tensor
)
    -> (loss: Tensor, simI2T: Tensor, simT2I: Tensor)
{
    let simI2T = queryTextSimilarity(imageEmbeds: imageEmbeds, textEmbeds: textEmbeds) / temperature
    let simT2I = simI2T.mT
    let targets = Tensor(ints: Array(0..<imageEmbeds.shape[0]))
    let loss =
        (crossEntropy(simI2T, targets, labelSmoothing: 0.1) + crossEntropy(simT2I, targets, labelSmoothing: 0.1)) / 2
    return (loss, simI2T.detach(), simT2I.detach())
}

/// ITM with hard negatives: a negative text for each image and a negative image for each text,
/// drawn ∝ softmax of the ITC similarities (positive excluded); 2-way cross-entropy over the
/// B positives and 2B negatives. image [B, N, C], ids/attentionMask [B, L].
public func blip2MatchingLoss(
    _ model: Blip2ForImageTextRetrieval, image: Tensor, ids: Tensor, attentionMask: Tensor,
    simI2T: Tensor, simT2I: Tensor, rng: inout RandomGenerator
) -> Tensor {
    let b = ids.shape[0]
    let (textForImage, imageForText) = sampleHardNegatives(simI2T: simI2T, simT2I: simT2I, rng: &rng)
    let identity = Array(0..<b)
    let texts = rows(ids, identity + identity + textForImage),
        masks = rows(attentionMask, identity + identity + textForImage)
    let images = cat([image, image.indexSelect(0, imageForText), image], dim: 0)
    let logits = model.matchingLogits(image: images, ids: texts, attentionMask: masks)
    return crossEntropy(logits, Tensor(ints: [Int](repeating: 1, count: b) + [Int](repeating: 0, count: 2 * b)))
}

/// ITG: predict token t + 1 from tokens ≤ t and the queries; padding (attentionMask 0) is not a
/// target. `ids` start with the decoder's BOS token (LAVIS puts [DEC] at position 0).
public func blip2CaptioningLoss(logits: Tensor, ids: Tensor, attentionMask: Tensor) -> Tensor {
    let (b, l, v) = (logits.shape[0], logits.shape[1], logits.shape[2])
    let tokens = ids.toInts(), keep = attentionMask.toArray()
    var labels: [Int] = []
    for bi in 0..<b {
        for t in 1..<l { labels.append(keep[bi * l + t] != 0 ? tokens[bi * l + t] : -100) }
    }
    return crossEntropy(
        logits.narrow(1, start: 0, length: l - 1).reshape([b * (l - 1), v]), Tensor(ints: labels),
        labelSmoothing: 0.1)
}

extension Blip2ForImageTextRetrieval {
    /// All three stage-1 losses for matching pairs: image features [B, N, C] (the frozen encoder's,
    /// see `imageFeatures`), ids [B, L] starting with the BOS token, attentionMask [B, L].
    /// `decoderIds` are ITG's ids when they differ from ITC's and ITM's: LAVIS gives those the
    /// text with [CLS] first and ITG the same text with [DEC] in its place.
    public func stage1Losses(
        image: Tensor, ids: Tensor, decoderIds: Tensor? = nil, attentionMask: Tensor,
        rng: inout RandomGenerator
    ) -> Blip2Stage1Losses {
        let itc = blip2ContrastiveLoss(
            imageEmbeds: imageEmbeds(image: image),
            textEmbeds: textEmbeds(ids: ids, attentionMask: attentionMask), temperature: temperature())
        let itm = blip2MatchingLoss(
            self, image: image, ids: ids, attentionMask: attentionMask,
            simI2T: itc.simI2T, simT2I: itc.simT2I, rng: &rng)
        let decoderIds = decoderIds ?? ids
        let itg = blip2CaptioningLoss(
            logits: captionLogits(image: image, ids: decoderIds, attentionMask: attentionMask),
            ids: decoderIds, attentionMask: attentionMask)
        return Blip2Stage1Losses(itc: itc.loss, itm: itm, itg: itg)
    }
}

/// Rows of an integer or mask tensor [B, L] by index (a new tensor of the same dtype).
func rows(_ t: Tensor, _ indices: [Int]) -> Tensor {
    let l = t.shape[1]
    if t.dtype == .i64 {
        let v = t.toInts()
        return Tensor(ints: indices.flatMap { v[($0 * l)..<($0 * l + l)] }, shape: [indices.count, l])
    }
    let v = t.toArray()
    return Tensor(indices.flatMap { v[($0 * l)..<($0 * l + l)] }, shape: [indices.count, l])
}
