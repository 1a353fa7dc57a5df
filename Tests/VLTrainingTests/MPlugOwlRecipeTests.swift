import Foundation
import VLIO
import VLModels
import VLNN
import VLTensor
import VLTokenizers
import XCTest
@testable import VLTraining

/// The mplug-owl-stage1/2 recipes: end to end on a tiny world, the written directory answering as
/// the in-memory model does, what each stage trains, and that stage 1 learns.
final class MPlugOwlRecipeTests: XCTestCase {
    var directory: URL!

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-owl-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// A tiny world CLIP and LLaMA written as directories "clip" and "lm".
    func writeTowers() throws -> (CLIPModel, LlamaForCausalLM, Tokenizer) {
        GlobalRandom.seed(31)
        let clipDir = directory.appendingPathComponent("clip"), lmDir = directory.appendingPathComponent("lm")
        try FileManager.default.createDirectory(at: clipDir, withIntermediateDirectories: true)
        let vocab = try WorldTokenizers.writeCLIPTokenizer(to: clipDir, maxLength: 32)
        let clip = try CLIPModel(CLIPPretraining.worldConfig(vocabSize: vocab, imageSize: 64, hidden: 32, layers: 2))
        try HFExport.write(clip, processor: CLIPPretraining.worldProcessor(imageSize: 64), to: clipDir)
        try FileManager.default.createDirectory(at: lmDir, withIntermediateDirectories: true)
        try WorldTokenizers.writeLanguageModelTokenizer(to: lmDir)
        let tokenizer = try Tokenizer(directory: lmDir)
        let lm = try LlamaForCausalLM(
            LanguageModelPretraining.worldConfig(vocabSize: tokenizer.vocabSize, hidden: 32, layers: 2))
        try HFExport.write(lm, to: lmDir)
        return (clip, lm, tokenizer)
    }

    func recipe(_ json: String) throws -> Recipe {
        let url = directory.appendingPathComponent("recipe-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: url)
        return try Recipe(
            contentsOf: url,
            overrides: [
                "world.train_scenes=32", "training.steps=3", "training.batch_size=8", "training.warmup_steps=0",
            ])
    }

    func testBothStagesRunEndToEndAndStageTwoAnswersQuestions() throws {
        _ = try writeTowers()
        var runner = RecipeRunner()
        runner.evaluationScenes = 3
        var logged: [String] = []
        runner.log = { logged.append($0) }
        try runner.run(
            try recipe(#"{"recipe": "mplug-owl-stage1", "output": "s1", "vision": "clip", "language_model": "lm"}"#))
        try runner.run(
            try recipe(
                #"{"recipe": "mplug-owl-stage2", "output": "s2", "model": "s1", "lora": {"r": 2, "lora_alpha": 4}}"#))
        XCTAssertTrue(logged.contains { $0.hasPrefix("mplug-owl: VQA on 3 test scenes: all ") }, "\(logged)")
        let s2 = directory.appendingPathComponent("s2")
        let adapter =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: s2.appendingPathComponent("adapter/adapter_config.json"))) as! [String: Any]
        XCTAssertEqual(adapter["r"] as? Int, 2)
        let names = try Checkpoint(directory: s2).names
        for prefix in [
            "vision_model.encoder.layers.", "query_tokens", "abstractor.visual_fc.", "language_model.model.layers.",
        ] {
            XCTAssertTrue(names.contains { $0.hasPrefix(prefix) }, prefix)
        }
        XCTAssertFalse(names.contains { $0.contains("lora_") }, "the adapters are merged")
        let image = World().samples(.test, count: 1)[0].scene.render()
        let answer = try GenerationPipeline(directory: s2).generate(
            prompt: "what color is the circle ?", images: [image],
            sampling: SamplingParameters(), maxTokens: 3)
        XCTAssertGreaterThan(answer.tokens.count, 0)
    }

    func testTheWrittenDirectoryGivesTheInMemoryModelsEmbeddingsAndLogits() throws {
        let (clip, lm, tokenizer) = try writeTowers()
        let owl = try MPlugOwlRecipe.assemble(clip: clip, languageModel: lm, imageTokenId: 4, queries: 3)
        let processor = CLIPPretraining.worldProcessor(imageSize: 64)
        let out = directory.appendingPathComponent("owl")
        try HFExport.write(owl, processor: processor, to: out)
        try WorldTokenizers.writeLanguageModelTokenizer(to: out)
        let pipeline = try GenerationPipeline(directory: out)
        let image = World().samples(.test, count: 1)[0].scene.render()
        let (ids, embeddings) = try pipeline.prepare(prompt: "what color is the circle ?", images: [image])
        let training = LlavaAlignment.example(
            tokenizer, question: "what color is the circle ?", answer: "", image: 0, imageTokenId: 4,
            imageTokens: owl.tokensPerImage)
        XCTAssertEqual(ids, Array(training.ids.dropLast()), "the pipeline's prompt is the one training used")
        let mine = try noGrad { try owl.inputEmbeddings(ids: ids, pixels: processor.batch([image])) }
        XCTAssertEqual(embeddings.toArray(), mine.toArray())
        let loaded = try MPlugOwlForConditionalGeneration.load(directory: out)
        XCTAssertEqual(
            loaded.config.jsonObject as NSDictionary, owl.config.jsonObject as NSDictionary, "config.json round-trips")
    }

    /// A language model that has seen the world's captions: a random one's logits are too small
    /// for any prefix to move them.
    func pretrainedLanguageModel(_ lm: LlamaForCausalLM, _ tokenizer: Tokenizer) throws {
        let captions = World().samples(.train, count: 64).map {
            TokenizedExample.promptResponse(tokenizer, prompt: "", response: $0.caption)
        }
        let trainer = Trainer(
            model: lm, settings: TrainingSettings(steps: 60, batchSize: 16, learningRate: 1e-2, warmupSteps: 0))
        try LanguageModelPretraining.train(lm, examples: captions, padId: 3, trainer: trainer)
    }

    /// Stage 1 trains the vision encoder and abstractor with the language model untouched; stage 2
    /// trains nothing but the adapters, and on 4 scenes' questions and captions for 40 steps its
    /// loss must fall well below its start.
    func testStageOneLeavesTheLanguageModelAloneAndStageTwoLearnsThroughAdaptersOnly() throws {
        let (clip, lm, tokenizer) = try writeTowers()
        try pretrainedLanguageModel(lm, tokenizer)
        let owl = try MPlugOwlRecipe.assemble(clip: clip, languageModel: lm, imageTokenId: 4, queries: 3)
        let data = TrainingData.world(World().samples(.train, count: 4))
        let pixels = try data.images.table(processor: CLIPPretraining.worldProcessor(imageSize: 64))
        func snapshot(_ prefix: String) -> [[Float]] {
            owl.namedParameters().filter { $0.0.hasPrefix(prefix) }.map { $0.1.value.toArray() }
        }
        func train(_ stage: MPlugOwlRecipe.Stage, steps: Int) throws -> [Float] {
            MPlugOwlRecipe.prepare(owl, stage: stage)
            let trainer = Trainer(
                model: owl, settings: TrainingSettings(steps: steps, batchSize: 32, learningRate: 1e-2, warmupSteps: 0))
            try MPlugOwlRecipe.train(
                owl, stage: stage,
                examples: MPlugOwlRecipe.examples(tokenizer, owl: owl, turns: MPlugOwlRecipe.turns(data, stage: stage)),
                pixels: pixels, padId: 3, trainer: trainer)
            return trainer.history.map(\.loss)
        }
        let lmBefore = snapshot("language_model."), visionBefore = snapshot("vision_model."),
            queriesBefore = snapshot("query_tokens")
        _ = try train(.pretraining, steps: 3)
        XCTAssertEqual(snapshot("language_model."), lmBefore, "stage 1 leaves the language model frozen")
        XCTAssertNotEqual(snapshot("vision_model."), visionBefore, "stage 1 trains the vision encoder")
        XCTAssertNotEqual(snapshot("query_tokens"), queriesBefore, "stage 1 trains the abstractor's queries")

        try owl.language_model.attachLoRA(
            LoRAConfig(
                rank: 8, alpha: 16,
                targets: .names(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])))
        let frozen = owl.namedParameters().filter { !$0.1.isAdapter }.map { $0.1.value.toArray() }
        let losses = try train(.instructionTuning, steps: 40)
        XCTAssertLessThan(losses.suffix(5).reduce(0, +) / 5, 0.75 * losses.prefix(5).reduce(0, +) / 5, "\(losses)")
        XCTAssertEqual(
            owl.namedParameters().filter { !$0.1.isAdapter }.map { $0.1.value.toArray() }, frozen, "only adapters train"
        )
    }

    func testMissingDirectoriesAndWrongModelTypesNameTheField() throws {
        _ = try writeTowers()
        let runner = RecipeRunner()
        XCTAssertThrowsError(
            try runner.run(try recipe(#"{"recipe": "mplug-owl-stage1", "output": "x", "language_model": "lm"}"#))
        ) {
            XCTAssertTrue("\($0)".contains("mplug-owl-stage1 needs \"vision\""), "\($0)")
        }
        XCTAssertThrowsError(
            try runner.run(
                try recipe(#"{"recipe": "mplug-owl-stage1", "output": "x", "vision": "lm", "language_model": "lm"}"#))
        ) {
            XCTAssertTrue("\($0)".hasPrefix("\"vision\": ") && "\($0)".contains("this needs clip"), "\($0)")
        }
        XCTAssertThrowsError(
            try runner.run(try recipe(#"{"recipe": "mplug-owl-stage2", "output": "x", "model": "nowhere"}"#))
        ) {
            XCTAssertTrue("\($0)".hasPrefix("\"model\": ") && "\($0)".contains("no such model directory"), "\($0)")
        }
        XCTAssertThrowsError(try runner.run(try recipe(#"{"recipe": "mplug-owl-stage2", "output": "x"}"#))) {
            XCTAssertTrue("\($0)".contains("mplug-owl-stage2 needs \"model\""), "\($0)")
        }
    }
}
