import Foundation
import VLImaging
import VLModels
import VLNN
import VLTensor
import VLTokenizers

/// CLIP pre-training (seed 001): both towers trained from scratch with the symmetric contrastive
/// loss over image–caption pairs.
public enum CLIPPretraining {
    /// A CLIP small enough to pre-train on the world in a minute on two cores.
    public static func worldConfig(vocabSize: Int, imageSize: Int = 64, hidden: Int = 128, layers: Int = 4) -> CLIPConfig {
        var c = CLIPConfig()
        c.projectionDim = hidden
        c.vision.hiddenSize = hidden
        c.vision.intermediateSize = hidden * 4
        c.vision.numHiddenLayers = layers
        c.vision.numAttentionHeads = max(1, hidden / 32)
        c.vision.imageSize = imageSize
        c.vision.patchSize = imageSize / 4
        c.vision.projectionDim = hidden
        c.vision.hiddenAct = "gelu"
        c.text.vocabSize = vocabSize
        c.text.hiddenSize = hidden
        c.text.intermediateSize = hidden * 4
        c.text.numHiddenLayers = max(1, layers - 1)
        c.text.numAttentionHeads = max(1, hidden / 32)
        c.text.maxPositionEmbeddings = 32
        c.text.projectionDim = hidden
        c.text.hiddenAct = "gelu"
        c.text.bosTokenId = vocabSize - 2
        c.text.eosTokenId = vocabSize - 1
        c.text.padTokenId = vocabSize - 1
        return c
    }

    /// The image processor a world CLIP uses: the world's images at their own size, CLIP's normalisation.
    public static func worldProcessor(imageSize: Int) -> ImageProcessor {
        var p = ImageProcessor()
        p.size = .shortestEdge(imageSize)
        (p.cropHeight, p.cropWidth) = (imageSize, imageSize)
        return p
    }

    /// Trains `model` on pairs (pixels row i, captions[i]). Captions that occur more than once in
    /// a batch are all counted as matches (the world repeats short captions). With `twins`, row
    /// `twins[i]` is a hard negative of row i and joins it in every batch it is drawn into (half
    /// of each batch is drawn, the other half are their twins).
    public static func train(_ model: ContrastiveTowers, pixels: Tensor, captions: [String], tokenizer: CLIPTokenizer,
                             twins: [Int: Int] = [:], trainer: Trainer) throws {
        let n = captions.count
        let drawable = twins.isEmpty ? Array(0..<n) : twins.keys.sorted()
        let maxLength = model.textLength
        let encoded = tokenizer(captions, padTo: maxLength)
        trainer.afterUpdate = { model.clampLogitScale(max: 100) }
        try trainer.run { rng in
            let rows: [Int]
            if twins.isEmpty {
                rows = (0..<trainer.settings.batchSize).map { _ in drawable[rng.nextInt(drawable.count)] }
            } else {
                let drawn = (0..<(trainer.settings.batchSize / 2)).map { _ in drawable[rng.nextInt(drawable.count)] }
                rows = drawn + drawn.map { twins[$0]! }
            }
            let ids = Tensor(ints: rows.flatMap { encoded.ids[$0] }, shape: [rows.count, maxLength])
            let mask = Tensor(ints: rows.flatMap { encoded.attentionMask[$0] }, shape: [rows.count, maxLength])
            let logits = model.logitsPerText(pixels: pixels.indexSelect(0, rows), ids: ids, attentionMask: mask)
            return (multiPositiveContrastiveLoss(logits, groups: rows.map { captions[$0] }), rows.count)
        }
    }
}

/// An image tower and a text tower trained contrastively (CLIP, and the EVA-CLIP-style
/// pre-training of BLIP-2's vision tower).
public protocol ContrastiveTowers: AnyObject {
    /// Texts are padded to this many tokens.
    var textLength: Int { get }
    /// Scaled cosine similarities [texts, images].
    func logitsPerText(pixels: Tensor, ids: Tensor, attentionMask: Tensor) -> Tensor
    /// Keeps the learned temperature in range after an optimiser step.
    func clampLogitScale(max: Float)
}

extension CLIPModel: ContrastiveTowers {
    public var textLength: Int { config.text.maxPositionEmbeddings }
    public func logitsPerText(pixels: Tensor, ids: Tensor, attentionMask: Tensor) -> Tensor {
        self(pixels: pixels, ids: ids, attentionMask: attentionMask).logitsPerText
    }
}

/// The symmetric contrastive loss where row i matches every column with the same group (the same
/// caption): the target distribution spreads evenly over them. With distinct groups this is
/// exactly CLIP's loss.
public func multiPositiveContrastiveLoss<G: Hashable>(_ logits: Tensor, groups: [G]) -> Tensor {
    let n = groups.count
    var targets = [Float](repeating: 0, count: n * n)
    for i in 0..<n {
        let matches = (0..<n).filter { groups[$0] == groups[i] }
        for j in matches { targets[i * n + j] = 1 / Float(matches.count) }
    }
    let t = Tensor(targets, shape: [n, n])  // symmetric, so it serves rows and columns alike
    let rowLoss = -(t * logits.logSoftmax(1)).sum() / Float(n)
    let columnLoss = -(t * logits.mT.logSoftmax(1)).sum() / Float(n)
    return (rowLoss + columnLoss) / 2
}
