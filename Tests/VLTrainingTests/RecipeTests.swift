import Foundation
import VLImaging
import VLModels
import VLNN
import VLTensor
import VLTokenizers
import XCTest
@testable import VLTraining

final class RecipeTests: XCTestCase {
    var directory: URL!

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-recipes-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func testMultiPositiveLossIsCLIPsLossWhenCaptionsDiffer() {
        var rng = RandomGenerator(seed: 1)
        let logits = Tensor.randn([5, 5], rng: &rng)
        XCTAssertEqual(
            multiPositiveContrastiveLoss(logits, groups: [1, 2, 3, 4, 5]).item(),
            contrastiveLoss(logitsPerText: logits).item(),
            accuracy: 1e-6)
        // Two identical captions: each row's target is split between both images.
        let shared = multiPositiveContrastiveLoss(logits, groups: [1, 1, 3, 4, 5]).item()
        let l = logits.logSoftmax(1).toArray(), c = logits.mT.logSoftmax(1).toArray()
        var expected: Float = 0
        for (i, targets) in [[0, 1], [0, 1], [2], [3], [4]].enumerated() {
            for j in targets { expected -= (l[i * 5 + j] + c[i * 5 + j]) / Float(targets.count) }
        }
        XCTAssertEqual(shared, expected / 10, accuracy: 1e-5)
    }

    func testBatchesLearnOnlyTheResponseTokens() {
        let a = TokenizedExample(ids: [1, 5, 6, 7, 2], trained: [false, false, false, true, true])
        let b = TokenizedExample(ids: [1, 8, 2], trained: [false, true, true])
        let batch = LanguageModelBatch([a, b], padId: 3)
        XCTAssertEqual(batch.inputs.toInts(), [1, 5, 6, 7, 1, 8, 3, 3])
        XCTAssertEqual(batch.targets.toInts(), [-100, -100, 7, 2, 8, 2, -100, -100])
        var rng = RandomGenerator(seed: 2)
        let logits = Tensor.randn([2, 4, 10], rng: &rng)
        let lp = logits.logSoftmax(-1).toArray()
        let expected = -(lp[2 * 10 + 7] + lp[3 * 10 + 2] + lp[4 * 10 + 8] + lp[5 * 10 + 2]) / 4
        XCTAssertEqual(languageModelLoss(logits: logits, targets: batch.targets).item(), expected, accuracy: 1e-5)
    }

    func makeLlava() throws -> (LlavaForConditionalGeneration, Tokenizer) {
        GlobalRandom.seed(4)
        try WorldTokenizers.writeLanguageModelTokenizer(to: directory)
        let tokenizer = try Tokenizer(directory: directory)
        let clip = try CLIPModel(CLIPPretraining.worldConfig(vocabSize: 50, imageSize: 32, hidden: 32, layers: 2))
        let lm = try LlamaForCausalLM(
            LanguageModelPretraining.worldConfig(vocabSize: tokenizer.vocabSize, hidden: 32, layers: 2))
        return (try LlavaAlignment.assemble(clip: clip, languageModel: lm, imageTokenId: 4), tokenizer)
    }

    func testBatchSplicingPutsImageFeaturesWhereLlavaDoes() throws {
        let (llava, tokenizer) = try makeLlava()
        var rng = RandomGenerator(seed: 5)
        let pixels = Tensor.randn([2, 3, 32, 32], rng: &rng)
        let examples = [
            LlavaAlignment.example(
                tokenizer, llava: llava, question: "what color is the circle ?", answer: "red", image: 0),
            LlavaAlignment.example(
                tokenizer, llava: llava, question: "how many shapes are there ?", answer: "two", image: 1),
        ]
        let batch = LanguageModelBatch(examples, padId: 3)
        let features = noGrad { llava.imageFeatures(pixels) }
        let spliced = try noGrad {
            try LlavaAlignment.splice(
                features, into: llava.language_model.embed(batch.inputs), ids: batch.inputIds, imageTokenId: 4)
        }
        for row in 0..<2 {
            let ids = Array(examples[row].ids.dropLast())
            let reference = try noGrad {
                try llava.inputEmbeddings(ids: ids, pixels: pixels.narrow(0, start: row, length: 1))
            }
            let ours = spliced.select(0, row).narrow(0, start: 0, length: ids.count)
            XCTAssertEqual(ours.toArray(), reference.reshape([ids.count, -1]).toArray())
        }
        let misplaced = [batch.inputIds[0], [1] + batch.inputIds[1].dropLast()]
        XCTAssertThrowsError(
            try LlavaAlignment.splice(
                features, into: llava.language_model.embed(batch.inputs), ids: misplaced, imageTokenId: 4))
    }

    func testStageOneTrainsOnlyTheProjectorAndStageTwoTheLanguageModelToo() throws {
        let (llava, tokenizer) = try makeLlava()
        var rng = RandomGenerator(seed: 6)
        let features = LlavaAlignment.visionFeatures(llava, pixels: Tensor.randn([3, 3, 32, 32], rng: &rng))
        let examples = (0..<3).map {
            LlavaAlignment.example(
                tokenizer, llava: llava, question: "describe the image .", answer: "a red circle", image: $0)
        }
        func snapshot() -> [String: [Float]] {
            Dictionary(uniqueKeysWithValues: llava.namedParameters().map { ($0.0, $0.1.value.toArray()) })
        }
        for (stage, changes) in [
            (LlavaAlignment.Stage.featureAlignment, ["multi_modal_projector"]),
            (.instructionTuning, ["multi_modal_projector", "language_model"]),
        ] {
            let before = snapshot()
            LlavaAlignment.prepare(llava, stage: stage)
            let trainer = Trainer(
                model: llava, settings: TrainingSettings(steps: 2, batchSize: 3, learningRate: 1e-2, warmupSteps: 0))
            try LlavaAlignment.train(llava, examples: examples, features: features, padId: 3, trainer: trainer)
            let after = snapshot()
            for (name, value) in before {
                let trains = changes.contains { name.hasPrefix($0 + ".") }
                if trains {
                    XCTAssertNotEqual(after[name], value, "\(stage): \(name) should train")
                } else {
                    XCTAssertEqual(after[name], value, "\(stage): \(name) is frozen")
                }
            }
        }
    }

    func testAnExportedLlavaLoadsAsAGenerationPipelineWithTheSameLogits() throws {
        let (llava, tokenizer) = try makeLlava()
        let processor = CLIPPretraining.worldProcessor(imageSize: 32)
        try HFExport.write(llava, processor: processor, to: directory)
        let pipeline = try GenerationPipeline(directory: directory)
        let image = World(imageSize: 32).samples(.test, count: 1)[0].scene.render()
        let (ids, embeddings) = try pipeline.prepare(prompt: "what color is the circle ?", images: [image])
        let expected = LlavaAlignment.example(
            tokenizer, llava: llava, question: "what color is the circle ?", answer: "", image: 0
        ).ids
        XCTAssertEqual(ids, Array(expected.dropLast()), "the pipeline's prompt is the one training used")
        let reloaded = try LlavaForConditionalGeneration.load(directory: directory)
        let mine = try noGrad { try llava.inputEmbeddings(ids: ids, pixels: processor.batch([image])) }
        XCTAssertEqual(mine.toArray(), embeddings.toArray())
        XCTAssertEqual(
            reloaded.config.jsonObject as NSDictionary, llava.config.jsonObject as NSDictionary,
            "config.json round-trips")
    }

    func testAnExportedCLIPLoadsWithItsTokenizerAndProcessor() throws {
        GlobalRandom.seed(7)
        let vocab = try WorldTokenizers.writeCLIPTokenizer(to: directory, maxLength: 32)
        let clip = try CLIPModel(CLIPPretraining.worldConfig(vocabSize: vocab, imageSize: 32, hidden: 32, layers: 2))
        try HFExport.write(clip, processor: CLIPPretraining.worldProcessor(imageSize: 32), to: directory)
        let pipeline = try CLIPPipeline(directory: directory)
        let image = World(imageSize: 32).samples(.test, count: 1)[0].scene.render()
        let cosine = matmul(pipeline.imageEmbeddings([image]), pipeline.textEmbeddings(["a small red circle"]).mT)
            .item()
        let data = WorldData(
            World(imageSize: 32).samples(.test, count: 1), processor: CLIPPretraining.worldProcessor(imageSize: 32))
        let tokenizer = try CLIPTokenizer(directory: directory)
        let direct = WorldEvaluation.similarities(
            clip, tokenizer: tokenizer, pixels: data.pixels, texts: ["a small red circle"])
        XCTAssertEqual(cosine, direct[0][0], accuracy: 1e-5)
    }
}

extension RecipeTests {
    func testEveryConnectorFamilyTrainsOnlyItsOwnPartsAndAnswers() throws {
        let (llava, tokenizer) = try makeLlava()
        let lm = llava.language_model
        let lmBefore = lm.namedParameters().map { $0.1.value.toArray() }
        var rng = RandomGenerator(seed: 8)
        let features = Tensor.randn([3, 5, 24], rng: &rng)
        for family in ConnectorFamily.allCases {
            let variant = try ConnectorVariant.make(
                family, visionWidth: 24, featureTokens: 5, languageModel: lm, imageTokenId: 4, queries: 3)
            let expected: [ConnectorFamily: Int] = [.flamingo: 1, .linear: 5, .mlp: 5, .qformer: 3, .abstractor: 4]  // abstractor: + vit_eos
            XCTAssertEqual(variant.imageTokens, expected[family], "\(family)")
            let examples = (0..<3).map {
                variant.example(tokenizer, question: "what color is the circle ?", answer: "red", image: $0)
            }
            XCTAssertEqual(examples[0].ids.filter { $0 == 4 }.count, variant.imageTokens)
            let trainer = Trainer(
                model: variant.model,
                settings: TrainingSettings(steps: 3, batchSize: 3, learningRate: 1e-2, warmupSteps: 0))
            XCTAssertGreaterThan(trainer.optimizer.parameters.count, 0, "\(family) has trainable parts")
            try variant.train(examples: examples, features: features, padId: 3, trainer: trainer)
            XCTAssertLessThan(trainer.history.last!.loss, trainer.history.first!.loss, "\(family) learns")
            _ = try variant.answer(
                tokenizer, question: "what color is the circle ?", features: features.narrow(0, start: 0, length: 1))
        }
        XCTAssertEqual(lm.namedParameters().map { $0.1.value.toArray() }, lmBefore, "the language model stays frozen")
    }
}

extension RecipeTests {
    func testVPGTransferFoldsTheConverterIntoTheProjector() throws {
        GlobalRandom.seed(10)
        var rng = RandomGenerator(seed: 11)
        // Target embeddings a fixed linear image of the source ones: the converter can find it.
        let source = Tensor.randn([40, 8], rng: &rng)
        let target = matmul(source, Tensor.randn([8, 12], rng: &rng))
        let converter = try VPGTransfer.trainEmbeddingConverter(
            source: source, target: target, steps: 200, learningRate: 3e-2)
        let cosine = noGrad { cosineSimilarity(converter(source), target).mean().item() }
        XCTAssertGreaterThan(cosine, 0.95)

        let projector = MLPProjector(inputSize: 6, outputSize: 8)
        let moved = VPGTransfer.transferred(projector, converter: converter)
        let x = Tensor.randn([3, 6], rng: &rng)
        let expected = noGrad { converter(projector(x)).toArray() }
        let got = noGrad { moved(x).toArray() }
        for (a, b) in zip(got, expected) { XCTAssertEqual(a, b, accuracy: 1e-4) }
    }

    func testStepsToReachAveragesOverAWindow() {
        let losses: [Float] = [5, 4, 3, 2, 1, 1, 1]
        XCTAssertEqual(VPGTransfer.stepsToReach(2, losses: losses, window: 2), 5)
        XCTAssertEqual(VPGTransfer.stepsToReach(0.5, losses: losses, window: 2), nil)
        XCTAssertNil(VPGTransfer.stepsToReach(9, losses: [1], window: 2))
    }
}
