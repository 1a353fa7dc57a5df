import VLNN
import VLTensor

// ALBEF's training signals (Li et al. 2021; the reference code's albef model): image–text
// contrastive learning against queues of momentum features, momentum distillation, image–text
// matching with hard negatives drawn from the contrastive similarities, and masked language
// modelling conditioned on the image.

/// A FIFO queue of past (momentum) features, [size, dim], as ALBEF keeps for its contrastive loss.
public final class FeatureQueue {
    public private(set) var features: Tensor
    private var pointer = 0

    public init(size: Int, dim: Int, rng: inout RandomGenerator) {
        features = Tensor.randn([size, dim], rng: &rng).l2Normalized()
    }

    /// Replaces the oldest rows with `batch` [B, dim] (B must divide the queue size, as in ALBEF);
    /// an empty queue stays empty.
    public func enqueue(_ batch: Tensor) {
        let n = batch.shape[0], size = features.shape[0]
        precondition(size % n == 0, "queue size \(size) is not a multiple of the batch \(n)")
        guard size > 0 else { return }
        features.narrowView(0, start: pointer, length: n).copyIn(batch.detach())
        pointer = (pointer + n) % size
    }
}

/// EMA update of a momentum copy: θ_m ← m·θ_m + (1 − m)·θ, parameter by parameter name.
public func momentumUpdate(_ momentumModel: Module, from model: Module, momentum m: Float) {
    let source = Dictionary(uniqueKeysWithValues: model.namedParameters())
    for (name, p) in momentumModel.namedParameters() {
        guard let s = source[name]?.value else { continue }
        let target = p.value.clone().to(.f32).detach()
        let tp = target.mutablePointer, sp = s.dense.pointer
        for i in 0..<target.count { tp[i] = m * tp[i] + (1 - m) * sp[i] }
        p.value = target
    }
}

/// ITC with momentum distillation: logits of each image against the batch's momentum text features
/// followed by the queue (and the reverse), targets = α·softmax(momentum logits) + (1 − α)·one-hot
/// of the matching pair; loss = mean over both directions of −Σ targets · log_softmax(logits).
public func albefContrastiveLoss(
    imageFeatures: Tensor, textFeatures: Tensor, momentumImage: Tensor, momentumText: Tensor,
    imageQueue: Tensor, textQueue: Tensor, temperature: Float, alpha: Float
) -> Tensor {
    albefContrastiveLoss(
        imageFeatures: imageFeatures, textFeatures: textFeatures, momentumImage: momentumImage,
        momentumText: momentumText, imageQueue: imageQueue, textQueue: textQueue,
        temperature: Tensor.scalar(temperature), alpha: alpha)
}

/// The same with a learned temperature (a scalar tensor that receives a gradient, ALBEF's `temp`).
/// With `groups` (an id per batch row, then per queue row) the hard target of row i spreads evenly
/// over every column of its group, as ALBEF's retrieval model does with its `idx_queue`: a caption
/// that recurs in the batch or the queue is not a negative of itself.
public func albefContrastiveLoss(
    imageFeatures: Tensor, textFeatures: Tensor, momentumImage: Tensor, momentumText: Tensor,
    imageQueue: Tensor, textQueue: Tensor, temperature: Tensor, alpha: Float,
    groups: [Int]? = nil
) -> Tensor {
    let b = imageFeatures.shape[0]
    let allText = cat([momentumText.detach(), textQueue], dim: 0),
        allImage = cat([momentumImage.detach(), imageQueue], dim: 0)
    let simI2T = matmul(imageFeatures, allText.mT) / temperature
    let simT2I = matmul(textFeatures, allImage.mT) / temperature
    let hard = positiveTargets(groups ?? Array(0..<b) + [Int](repeating: -1, count: allText.shape[0] - b), rows: b)
    let (targetsI2T, targetsT2I): (Tensor, Tensor) = noGrad {
        let t = temperature.detach()
        let mI2T = matmul(momentumImage, allText.mT) / t, mT2I = matmul(momentumText, allImage.mT) / t
        return (mI2T.softmax(-1) * alpha + hard * (1 - alpha), mT2I.softmax(-1) * alpha + hard * (1 - alpha))
    }
    let i2t = -(simI2T.logSoftmax(-1) * targetsI2T).sum(1).mean()
    let t2i = -(simT2I.logSoftmax(-1) * targetsT2I).sum(1).mean()
    return (i2t + t2i) / 2
}

/// [rows, groups.count]: row i spreads 1 evenly over the columns whose group is groups[i].
func positiveTargets(_ groups: [Int], rows: Int) -> Tensor {
    let width = groups.count
    var t = [Float](repeating: 0, count: rows * width)
    for i in 0..<rows {
        let columns = groups.indices.filter { groups[$0] == groups[i] }
        for j in columns { t[i * width + j] = 1 / Float(columns.count) }
    }
    return Tensor(t, shape: [rows, width])
}

/// ITM hard negatives: for each image a text drawn with probability ∝ softmax(sim_i2t) over the
/// batch excluding its own (and for each text an image likewise). sim [B, B] without the queue.
public func sampleHardNegatives(
    simI2T: Tensor, simT2I: Tensor, rng: inout RandomGenerator
) -> (textForImage: [Int], imageForText: [Int]) {
    func draw(_ sim: Tensor) -> [Int] {
        let b = sim.shape[0]
        let probs = noGrad { sim.softmax(-1) }.toArray()
        return (0..<b).map { i in
            var weights = (0..<b).map { probs[i * b + $0] + 1e-4 }  // as ALBEF: +1e-4, then the positive removed
            weights[i] = 0
            let total = weights.reduce(0, +)
            var u = rng.nextFloat() * total
            for (j, w) in weights.enumerated() {
                if u < w { return j }
                u -= w
            }
            return (i + 1) % b
        }
    }
    return (draw(simI2T), draw(simT2I))
}

/// BERT/ALBEF masking: each maskable token is chosen with `probability`; a chosen token becomes
/// [MASK] 80% of the time, a random token 10%, stays 10%. Labels are the original ids at chosen
/// positions and −100 elsewhere. Padding and special tokens are never chosen.
public func maskTokens(
    _ ids: [Int], vocabSize: Int, maskId: Int, special: Set<Int>, probability: Float = 0.15,
    rng: inout RandomGenerator
) -> (input: [Int], labels: [Int]) {
    var input = ids, labels = [Int](repeating: -100, count: ids.count)
    for (i, id) in ids.enumerated() where !special.contains(id) && rng.nextFloat() < probability {
        labels[i] = id
        let r = rng.nextFloat()
        if r < 0.8 { input[i] = maskId } else if r < 0.9 { input[i] = rng.nextInt(vocabSize) }
    }
    return (input, labels)
}

/// MLM with momentum distillation: (1 − α)·CE(logits, labels) + α·(−Σ softmax(momentum logits) ·
/// log_softmax(logits)) averaged over the masked positions.
public func distilledMaskedLMLoss(logits: Tensor, labels: [Int], momentumLogits: Tensor?, alpha: Float) -> Tensor {
    let v = logits.shape.last!
    let flat = logits.reshape([-1, v])
    let ce = crossEntropy(flat, Tensor(ints: labels))
    let kept = labels.indices.filter { labels[$0] != -100 }
    guard let momentumLogits, alpha > 0, !kept.isEmpty else { return ce }  // nothing masked: ce is 0
    let rows = flat.indexSelect(0, kept)
    let soft = noGrad { momentumLogits.reshape([-1, v]).indexSelect(0, kept).softmax(-1) }
    let distill = -(rows.logSoftmax(-1) * soft).sum(1).mean()
    return ce * (1 - alpha) + distill * alpha
}
