import Foundation
import VLFiles
import VLImaging
import VLModels
import VLNN
import VLTensor
import VLTokenizers

/// ALBEF pre-training (Li et al. 2021) from scratch on image–caption pairs: every step updates the
/// EMA teacher, then sums ITC (against the teacher's features and the queues), ITM (hard negatives
/// drawn from the contrastive similarities) and MLM conditioned on the image, both distilled from
/// the teacher with weight α, which ramps from 0 to its full value over the first epoch as in
/// ALBEF's `Pretrain.py`.
public enum ALBEFRecipe {
    /// ALBEF's `configs/Pretrain.yaml` values the objective uses. On the world there is no queue
    /// (ITC within the batch) and the teacher's momentum is 0.9, not 0.995: an EMA over the last
    /// ~10 steps of a 200-step run, where 0.995 would keep a third of the random initial weights to
    /// the end. From scratch, a queue of 8 batches kept ITC at chance: its stale teacher features
    /// are 8 of every 9 candidates, and early on they barely differ (measured on 2000 scenes, 100
    /// steps: R@1 0.3% with the queue, 7–8% without).
    public struct Objective: Equatable {
        public var queueSize = 0
        public var momentum: Float = 0.9
        public var alpha: Float = 0.4
        public var mlmProbability: Float = 0.15

        public init() {}

        public var jsonObject: [String: Any] {
            [
                "queue_size": queueSize, "momentum": decimal(momentum), "alpha": decimal(alpha),
                "mlm_probability": decimal(mlmProbability),
            ]
        }
    }

    /// An ALBEF small enough to pre-train on the world in a minute or two on two cores: a 4-layer
    /// ViT on 16×16-pixel patches, a 4-layer BERT whose last 2 layers are the fusion layers.
    public static func worldConfig(
        vocabSize: Int, imageSize: Int = 64, hidden: Int = 128, layers: Int = 4, maxLength: Int = 32
    ) -> ALBEFConfig {
        var c = ALBEFConfig()
        c.vision.imageSize = imageSize
        c.vision.patchSize = imageSize / 4
        c.vision.hiddenSize = hidden
        c.vision.numHiddenLayers = layers
        c.vision.numAttentionHeads = max(1, hidden / 32)
        c.bert.vocabSize = vocabSize
        c.bert.hiddenSize = hidden
        c.bert.numHiddenLayers = layers
        c.bert.numAttentionHeads = max(1, hidden / 32)
        c.bert.intermediateSize = 4 * hidden
        c.bert.maxPositionEmbeddings = maxLength
        c.fusionLayer = layers / 2
        c.embedDim = hidden
        return c
    }

    /// BERT's embedding tables drawn from N(0, 0.02) as transformers initialises them (VLKit's
    /// default N(0, 1) gives tied MLM logits whose loss starts near 40). The linear layers keep
    /// PyTorch's defaults: with N(0, 0.02) everywhere, as timm and transformers draw them, the two
    /// text layers and the ViT barely change their [CLS] with the input, so every caption's and
    /// every image's contrastive feature starts nearly the same.
    public static func initialiseTowers(_ albef: ALBEF) {
        for (name, p) in albef.namedParameters()
        where name.hasPrefix("text_encoder.") && name.contains("embeddings.") && p.value.rank == 2 {
            p.value = Init.normal(p.value.shape, std: 0.02)
        }
    }

    /// α at `step` (0-based): ALBEF's `alpha * min(1, i / len(data_loader))` in the first epoch.
    public static func alpha(_ full: Float, step: Int, epochSteps: Int) -> Float {
        full * min(1, Float(step) / Float(max(epochSteps, 1)))
    }

    /// Captions as [CLS] … [SEP] ids padded to the longest one, with their attention masks (row-major).
    public static func encode(_ texts: [String], tokenizer: WordPieceTokenizer) -> (ids: [[Int]], mask: [[Int]]) {
        let encoded = texts.map { tokenizer.encode($0) }
        let length = encoded.map(\.count).max() ?? 0
        return (
            encoded.map { $0 + [Int](repeating: tokenizer.padTokenId, count: length - $0.count) },
            encoded.map { [Int](repeating: 1, count: $0.count) + [Int](repeating: 0, count: length - $0.count) }
        )
    }

    /// An id per caption, equal for equal captions (the world repeats short ones).
    static func captionGroups(_ captions: [String]) -> [Int] {
        var ids: [String: Int] = [:]
        return captions.map { c in
            ids[c]
                ?? {
                    ids[c] = ids.count; return ids.count - 1
                }()
        }
    }

    /// Batches of `data`'s image–caption pairs: pixels, [CLS] … [SEP] ids padded to the longest
    /// caption, masks, and each caption's group (equal captions, one group).
    public static func batches(
        _ data: TrainingData, processor: ImageProcessor, tokenizer: WordPieceTokenizer
    ) throws -> Batches<ALBEFBatch> {
        let captions = data.captions
        let (ids, mask) = encode(captions.map(\.text), tokenizer: tokenizer)
        let group = captionGroups(captions.map(\.text))
        let length = ids.first?.count ?? 0
        let pixels = try data.images.pixelSource(processor: processor)
        return Batches(count: captions.count) { rows in
            ALBEFBatch(
                pixels: try pixels(rows.map { captions[$0].image }),
                ids: Tensor(ints: rows.flatMap { ids[$0] }, shape: [rows.count, length]),
                attentionMask: Tensor(ints: rows.flatMap { mask[$0] }, shape: [rows.count, length]),
                groups: rows.map { group[$0] })
        }
    }

    /// The summed ITC + ITM + MLM loss of a batch, with α ramped over `epochSteps` (the trainer's step).
    public static func loss(
        _ pretraining: ALBEFPretraining, objective: Objective, epochSteps: Int,
        trainer: Trainer
    ) -> (ALBEFBatch, inout RandomGenerator) throws -> (loss: Tensor, samples: Int) {
        { [unowned trainer] b, rng in
            let losses = pretraining.losses(
                pixels: b.pixels, ids: b.ids, attentionMask: b.attentionMask,
                alpha: alpha(objective.alpha, step: trainer.step, epochSteps: epochSteps), groups: b.groups, rng: &rng)
            return (losses.total, b.groups.count)
        }
    }

    /// Trains `pretraining.model` on `data`'s image–caption pairs.
    public static func train(
        _ pretraining: ALBEFPretraining, data: TrainingData, processor: ImageProcessor, tokenizer: WordPieceTokenizer,
        objective: Objective, trainer: Trainer
    ) throws {
        let batch = trainer.settings.batchSize
        let epochSteps = (data.captions.count + batch - 1) / batch
        try trainer.run(
            batches(data, processor: processor, tokenizer: tokenizer),
            loss(pretraining, objective: objective, epochSteps: epochSteps, trainer: trainer))
    }
}

/// Images and captions as ALBEF reads them.
public struct ALBEFBatch {
    public let pixels: Tensor
    public let ids: Tensor
    public let attentionMask: Tensor
    /// Equal captions share a group: all their pairs are ITC positives.
    public let groups: [Int]
}

/// `albef`: ALBEF from scratch on image–caption pairs (the world's or a captions file's); on the
/// world, scored on its test scenes.
public enum ALBEFTrainingRecipe: TrainingRecipe {
    public static let name: Recipe.Name = "albef"
    public static let defaults = TrainingSettings(steps: 200, batchSize: 32, learningRate: 1e-3, warmupSteps: 20)
    public static let data: [DataKind] = [.captions]

    /// A held-out loss would move the momentum teacher (every ALBEF loss updates it), so there is none.
    public static func validate(_ recipe: Recipe) throws {
        if recipe.data?.validation != nil {
            throw RecipeError(
                "\"data.validation\" is not read by albef: its loss updates the momentum teacher; score the written directory with `vlkit eval --data`"
            )
        }
    }

    public static func run(_ stage: RecipeStage) throws {
        try stage.runner.trainALBEF(
            on: stage.data(), processor: stage.processor, settings: stage.settings, output: stage.output,
            test: stage.worldTestScenes(stage.runner.evaluationScenes))
    }
}

extension RecipeRunner {
    /// ALBEF from scratch on `train`'s captions; writes the directory (config.json, ALBEF-named
    /// model.safetensors, vocab.txt, preprocessor config) and scores it on `test` scenes (the
    /// world's, `evaluationScenes` of them by default). On `--resume` the EMA teacher restarts from
    /// the resumed weights and the queues from noise (neither is part of the trainer's checkpoint).
    @discardableResult
    public func trainALBEF(
        on train: TrainingData, processor: ImageProcessor, settings: TrainingSettings, output: URL,
        test: [WorldSample]? = nil
    ) throws -> (model: ALBEF, tokenizer: WordPieceTokenizer, scores: ALBEFScores?) {
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let maxLength = 32
        let vocab = try WorldTokenizers.writeWordPieceTokenizer(to: output, maxLength: maxLength)
        let tokenizer = try WordPieceTokenizer(directory: output)
        let albef = try ALBEF(
            ALBEFRecipe.worldConfig(vocabSize: vocab, imageSize: processor.cropHeight, maxLength: maxLength))
        ALBEFRecipe.initialiseTowers(albef)
        let trainer = try makeTrainer("albef", albef, settings, output)
        let objective = ALBEFRecipe.Objective()
        var rng = RandomGenerator(seed: settings.seed &+ 0xA1BE)
        let pretraining = try ALBEFPretraining(
            model: albef, queueSize: objective.queueSize, maskTokenId: tokenizer.vocab["[MASK]"]!,
            unmaskable: [tokenizer.padTokenId, tokenizer.clsTokenId], rng: &rng)
        (pretraining.momentum, pretraining.mlmProbability) = (objective.momentum, objective.mlmProbability)
        try ALBEFRecipe.train(
            pretraining, data: train, processor: processor, tokenizer: tokenizer, objective: objective, trainer: trainer
        )
        try HFExport.write(albef, objective: objective, processor: processor, to: output)
        let scenes = test ?? World(imageSize: processor.cropHeight).samples(.test, count: evaluationScenes)
        guard !scenes.isEmpty else { return (albef, tokenizer, nil) }
        let data = WorldData(scenes, processor: processor)
        let scores = ALBEFEvaluation.scores(
            albef, tokenizer: tokenizer, retrieval: data.withDistinctCaptions(processor: processor), zeroShot: data)
        log("albef: " + scores.summary)
        return (albef, tokenizer, scores)
    }
}

extension HFExport {
    /// ALBEF's directory: config.json (ALBEFConfig's format with the objective's Pretrain.yaml
    /// values), the model's weights by ALBEF's names, the image processor.
    public static func write(
        _ model: ALBEF, objective: ALBEFRecipe.Objective, processor: ImageProcessor, to directory: URL
    ) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try writeWeights(model, to: directory)
        try writeJSON(
            model.config.jsonObject.merging(objective.jsonObject) { a, _ in a },
            to: directory.appendingPathComponent("config.json"))
        try writeJSON(processor.jsonObject, to: directory.appendingPathComponent("preprocessor_config.json"))
    }
}
