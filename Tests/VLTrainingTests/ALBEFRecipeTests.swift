import Foundation
import VLIO
import VLModels
import VLNN
import VLTensor
import VLTokenizers
import XCTest
@testable import VLTraining

/// The albef recipe: end to end on a tiny world, its directory loading back, ITC learning, α's ramp.
final class ALBEFRecipeTests: XCTestCase {
    var directory: URL!

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-albef-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func testTheWorldWordPieceVocabularyCoversEveryCaptionWord() throws {
        try WorldTokenizers.writeWordPieceTokenizer(to: directory, maxLength: 32)
        let tokenizer = try WordPieceTokenizer(directory: directory)
        let caption = "a small red circle to the left of a large blue square"
        let ids = tokenizer.encode(caption)
        XCTAssertEqual(ids.count, caption.split(separator: " ").count + 2, "one token a word, with [CLS] and [SEP]")
        XCTAssertFalse(ids.contains(tokenizer.unknownTokenId))
        XCTAssertEqual(tokenizer.decode(ids), caption)
        XCTAssertFalse(tokenizer.encode("zebra").contains(tokenizer.unknownTokenId), "other words fall back to letters")
    }

    func testAlphaRampsOverTheFirstEpochAsInALBEF() {
        XCTAssertEqual(ALBEFRecipe.alpha(0.4, step: 0, epochSteps: 10), 0)
        XCTAssertEqual(ALBEFRecipe.alpha(0.4, step: 5, epochSteps: 10), 0.2, accuracy: 1e-6)
        XCTAssertEqual(ALBEFRecipe.alpha(0.4, step: 30, epochSteps: 10), 0.4)
    }

    /// A 2-layer, 64-wide ALBEF initialised as the recipe does, its WordPiece tokenizer, and the
    /// distinct caption pairs of `scenes` 32-px training scenes.
    private func tinyWorldALBEF(seed: UInt64, scenes: Int) throws -> (WordPieceTokenizer, WorldData, ALBEF) {
        GlobalRandom.seed(seed)
        try WorldTokenizers.writeWordPieceTokenizer(to: directory, maxLength: 32)
        let tokenizer = try WordPieceTokenizer(directory: directory)
        let processor = CLIPPretraining.worldProcessor(imageSize: 32)
        let data = WorldData(World(imageSize: 32).samples(.train, count: scenes), processor: processor)
            .withDistinctCaptions(processor: processor)
        let albef = try ALBEF(
            ALBEFRecipe.worldConfig(vocabSize: tokenizer.vocab.count, imageSize: 32, hidden: 64, layers: 2))
        ALBEFRecipe.initialiseTowers(albef)
        return (tokenizer, data, albef)
    }

    /// The world objective from scratch on the distinct pairs of 96 scenes: ITC retrieval of the
    /// training pairs must rise well above chance (with a queue of 8 batches it stays at chance).
    func testTheWorldObjectiveLearnsRetrievalFromScratch() throws {
        let (tokenizer, data, albef) = try tinyWorldALBEF(seed: 31, scenes: 96)
        let objective = ALBEFRecipe.Objective()
        var rng = RandomGenerator(seed: 32)
        let pretraining = try ALBEFPretraining(
            model: albef, queueSize: objective.queueSize, maskTokenId: tokenizer.vocab["[MASK]"]!,
            unmaskable: [tokenizer.padTokenId, tokenizer.clsTokenId], rng: &rng)
        pretraining.momentum = objective.momentum
        let trainer = Trainer(
            model: albef, settings: TrainingSettings(steps: 60, batchSize: 16, learningRate: 2e-3, warmupSteps: 5))
        try ALBEFRecipe.train(
            pretraining, data: .world(data.samples), processor: CLIPPretraining.worldProcessor(imageSize: 32),
            tokenizer: tokenizer,
            objective: objective, trainer: trainer)
        let e = ALBEFEvaluation.encode(albef, tokenizer: tokenizer, pixels: data.pixels, texts: data.captions)
        let recall = RetrievalRecall(similarity: e.similarity, imageOfText: Array(data.samples.indices)).textToImage[5]!
        XCTAssertGreaterThan(
            recall, 3 * 5 / Double(data.samples.count), "text→image R@5 over \(data.samples.count) pairs")
    }

    /// Equal captions share a group, and each step's groups enter the queue beside its features.
    func testCaptionGroupsFollowTheFeatureQueue() throws {
        XCTAssertEqual(ALBEFRecipe.captionGroups(["a red circle", "a blue square", "a red circle"]), [0, 1, 0])
        let albef = try ALBEF(ALBEFRecipe.worldConfig(vocabSize: 40, imageSize: 32, hidden: 32, layers: 2))
        var rng = RandomGenerator(seed: 3)
        let pretraining = try ALBEFPretraining(
            model: albef, queueSize: 4, maskTokenId: 3, unmaskable: [0, 1], rng: &rng)
        XCTAssertEqual(pretraining.groupQueue, [-1, -1, -1, -1])
        let pixels = Tensor.randn([2, 3, 32, 32], rng: &rng),
            ids = Tensor(ints: [1, 5, 6, 2, 1, 7, 2, 0], shape: [2, 4])
        let mask = Tensor(ints: [1, 1, 1, 1, 1, 1, 1, 0], shape: [2, 4])
        for groups in [[4, 9], [9, 9], [5, 6]] {
            _ = pretraining.losses(pixels: pixels, ids: ids, attentionMask: mask, alpha: 0.4, groups: groups, rng: &rng)
        }
        XCTAssertEqual(pretraining.groupQueue, [5, 6, 9, 9], "the oldest batch ([4, 9]) replaced, as the features are")
    }

    func testTheRecipeRunsEndToEndAndItsDirectoryLoadsBackWithTheSameOutputs() throws {
        var runner = RecipeRunner()
        runner.evaluationScenes = 24
        var logged: [String] = []
        runner.log = { logged.append($0) }
        let processor = CLIPPretraining.worldProcessor(imageSize: 64)
        let train = TrainingData.world(World().samples(.train, count: 32))
        let settings = TrainingSettings(steps: 3, batchSize: 8, learningRate: 1e-3, warmupSteps: 0)
        let (albef, tokenizer, scores) = try runner.trainALBEF(
            on: train, processor: processor, settings: settings, output: directory)
        XCTAssertTrue(logged.contains { $0.hasPrefix("albef: retrieval over") }, "\(logged)")
        XCTAssertEqual(scores?.zeroShotChance, 1 / Double(WorldEvaluation.objectLabels.count))
        for file in [
            "config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "preprocessor_config.json",
        ] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent(file).path), file)
        }
        let names = try Checkpoint(directory: directory).names
        for name in [
            "visual_encoder.cls_token", "visual_encoder.blocks.0.attn.qkv.weight",
            "text_encoder.bert.encoder.layer.3.crossattention.self.query.weight",
            "text_encoder.cls.predictions.bias", "vision_proj.weight", "text_proj.weight", "itm_head.weight", "temp",
        ] {
            XCTAssertTrue(names.contains(name), name)
        }
        let loaded = try ALBEF.load(directory: directory)
        XCTAssertEqual(loaded.config, albef.config, "config.json round-trips")
        let data = WorldData(World().samples(.test, count: 4), processor: processor)
        let mine = ALBEFEvaluation.encode(albef, tokenizer: tokenizer, pixels: data.pixels, texts: data.captions)
        let theirs = ALBEFEvaluation.encode(
            loaded, tokenizer: try WordPieceTokenizer(directory: directory), pixels: data.pixels, texts: data.captions)
        XCTAssertEqual(theirs.similarity, mine.similarity)
        XCTAssertEqual(
            ALBEFEvaluation.matchScores(loaded, theirs, images: [0, 1, 2], texts: [0, 2, 1]),
            ALBEFEvaluation.matchScores(albef, mine, images: [0, 1, 2], texts: [0, 2, 1]))
        let masked = Tensor(ints: [2, 4, 10, 4, 3], shape: [1, 5]),
            mask = Tensor(ints: [1, 1, 1, 1, 1], shape: [1, 5])
        let image = data.pixels.narrow(0, start: 0, length: 1)
        XCTAssertEqual(
            noGrad {
                loaded.maskedLMLogits(ids: masked, attentionMask: mask, image: loaded.imageEmbeds(image)).toArray()
            },
            noGrad { albef.maskedLMLogits(ids: masked, attentionMask: mask, image: albef.imageEmbeds(image)).toArray() }
        )
    }

    /// A fixed batch of distinct pairs, 30 steps as the recipe trains: the contrastive loss must fall well below its start.
    func testITCLossFallsOnAFixedBatch() throws {
        let (tokenizer, data, albef) = try tinyWorldALBEF(seed: 21, scenes: 8)
        var rng = RandomGenerator(seed: 22)
        let b = data.samples.count
        let pretraining = try ALBEFPretraining(
            model: albef, queueSize: 2 * b, maskTokenId: tokenizer.vocab["[MASK]"]!,
            unmaskable: [tokenizer.padTokenId, tokenizer.clsTokenId], rng: &rng)
        pretraining.momentum = ALBEFRecipe.Objective().momentum
        let (ids, mask) = ALBEFRecipe.encode(data.captions, tokenizer: tokenizer)
        let idsTensor = Tensor(ints: ids.flatMap { $0 }, shape: [b, ids[0].count]),
            maskTensor = Tensor(ints: mask.flatMap { $0 }, shape: [b, ids[0].count])
        var itc: [Float] = []
        let trainer = Trainer(
            model: albef, settings: TrainingSettings(steps: 30, batchSize: b, learningRate: 2e-3, warmupSteps: 0))
        try trainer.run { rng in
            let l = pretraining.losses(
                pixels: data.pixels, ids: idsTensor, attentionMask: maskTensor, alpha: 0.4, rng: &rng)
            itc.append(l.itc.item())
            return (l.total, b)
        }
        XCTAssertLessThan(itc.suffix(5).reduce(0, +) / 5, 0.7 * itc[0], "ITC \(itc)")
    }
}
