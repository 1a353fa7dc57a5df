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
    public static func worldConfig(
        vocabSize: Int, imageSize: Int = 64, hidden: Int = 128, layers: Int = 4
    ) -> CLIPConfig {
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

    /// Image–caption batches of `data` for contrastive towers, the captions tokenised once. With
    /// hard negatives (the world's shape twins), half of each batch is drawn and the other half are
    /// their twins.
    public static func batches(
        _ data: TrainingData, processor: ImageProcessor, tokenizer: CLIPTokenizer, textLength: Int,
        batchSize: Int
    ) throws -> Batches<ContrastiveBatch> {
        let captions = data.captions, twins = data.hardNegatives
        let encoded = tokenizer(captions.map(\.text), padTo: textLength)
        let pixels = try data.images.pixelSource(processor: processor)
        let drawable = twins.isEmpty ? Array(captions.indices) : twins.keys.sorted()
        return Batches(count: drawable.count, batchSize: twins.isEmpty ? batchSize : max(1, batchSize / 2)) { picked in
            let drawn = picked.map { drawable[$0] }
            let rows = twins.isEmpty ? drawn : drawn + drawn.map { twins[$0]! }
            return ContrastiveBatch(
                pixels: try pixels(rows.map { captions[$0].image }),
                ids: Tensor(ints: rows.flatMap { encoded.ids[$0] }, shape: [rows.count, textLength]),
                attentionMask: Tensor(
                    ints: rows.flatMap { encoded.attentionMask[$0] }, shape: [rows.count, textLength]),
                captions: rows.map { captions[$0].text })
        }
    }

    /// The contrastive loss of a batch. Captions that occur more than once in it are all counted
    /// as matches (the world repeats short captions).
    public static func loss(
        _ model: ContrastiveTowers
    ) -> (ContrastiveBatch, inout RandomGenerator) throws -> (loss: Tensor, samples: Int) {
        { b, _ in
            let logits = model.logitsPerText(pixels: b.pixels, ids: b.ids, attentionMask: b.attentionMask)
            return (multiPositiveContrastiveLoss(logits, groups: b.captions), b.captions.count)
        }
    }

    /// Trains `model` on `data`'s image–caption pairs (see `batches`).
    public static func train(
        _ model: ContrastiveTowers, data: TrainingData, processor: ImageProcessor, tokenizer: CLIPTokenizer,
        trainer: Trainer
    ) throws {
        trainer.afterUpdate = { model.clampLogitScale(max: 100) }
        try trainer.run(
            batches(
                data, processor: processor, tokenizer: tokenizer, textLength: model.textLength,
                batchSize: trainer.settings.batchSize), loss(model))
    }
}

/// Images and their captions, tokenised and padded.
public struct ContrastiveBatch {
    public let pixels: Tensor
    public let ids: Tensor
    public let attentionMask: Tensor
    public let captions: [String]
}

/// `clip`: a CLIP from scratch on image–caption pairs — the world's (each scene with its shape
/// twin as a hard negative) or a captions file's.
public enum CLIPRecipe: TrainingRecipe {
    public static let name: Recipe.Name = "clip"
    public static let defaults = TrainingSettings(steps: 250, batchSize: 64, learningRate: 1e-3, warmupSteps: 20)
    public static let data: [DataKind] = [.captions]

    public static func run(_ stage: RecipeStage) throws {
        _ = try stage.runner.trainCLIP(
            on: stage.data(), processor: stage.processor, settings: stage.settings, output: stage.output,
            validation: try stage.validationData().map { ($0, stage.validationEvery) })
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
