import Foundation
import VLImaging
import VLIO
import VLModels
import VLNN
import VLTensor
import VLTokenizers
import XCTest
@testable import VLTraining
import VLTestSupport

/// YAML recipe files, and the BLIP-2 / MiniGPT-4 recipes end to end on a tiny world.
final class Blip2RecipeTests: TemporaryDirectoryTestCase {

    func testAYAMLRecipeReadsAsItsJSONTwinWithOverrides() throws {
        let json = try file(
            "r.json",
            #"{"recipe": "blip2-stage2", "output": "out", "model": "s1", "language_model": "/lm", "world": {"train_scenes": 50}, "training": {"learning_rate": 0.002, "steps": 7}}"#
        )
        let yaml = try file(
            "r.yaml",
            """
            # BLIP-2 stage 2
            recipe: blip2-stage2
            output: out
            model: s1
            language_model: /lm
            world: {train_scenes: 50}
            training:
              learning_rate: 2.0e-3
              steps: 7
            """)
        let overrides = ["training.steps=9", "lora.target_modules=[\"q_proj\"]"]
        let a = try Recipe(contentsOf: json, overrides: overrides),
            b = try Recipe(contentsOf: yaml, overrides: overrides)
        XCTAssertEqual(a, b)
        XCTAssertEqual(b.training.steps, 9)
        XCTAssertEqual(b.model, directory.appendingPathComponent("s1").path)
        XCTAssertEqual(try Recipe(contentsOf: file("r.yml", "recipe: clip\noutput: o\n")).recipe, "clip")
    }

    func testBadYAMLIsNamedWithItsFileAndLine() throws {
        let malformed = try file("bad.yaml", "recipe: clip\noutput: o\ntraining:\n  steps: [1, 2\n")
        XCTAssertThrowsError(try Recipe(contentsOf: malformed)) {
            XCTAssertTrue("\($0)".hasPrefix(malformed.path + ": not valid YAML: 5:"), "\($0)")
        }
        let list = try file("list.yaml", "- recipe: clip\n")
        XCTAssertThrowsError(try Recipe(contentsOf: list)) {
            XCTAssertEqual("\($0)", list.path + ": not a YAML mapping of recipe fields")
        }
        let wrongType = try file("type.yaml", "recipe: clip\noutput: o\ntraining: {steps: many}\n")
        XCTAssertThrowsError(try Recipe(contentsOf: wrongType)) {
            XCTAssertTrue("\($0)".contains("\"training.steps\" has the wrong type"), "\($0)")
        }
    }

    /// Runs `json` (a recipe without its common tiny settings) in the test folder.
    func run(_ json: String, steps: Int = 3) throws {
        var object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        object["world"] = ["train_scenes": 32, "test_scenes": 4]
        object["training"] = ["steps": steps, "batch_size": 8, "warmup_steps": 0]
        let url = directory.appendingPathComponent("recipe-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        try RecipeRunner().run(Recipe(contentsOf: url))
    }

    func weights(_ folder: String) throws -> [String: Tensor] {
        try loadSafetensors(
            path: directory.appendingPathComponent(folder).appendingPathComponent("model.safetensors").path)
    }

    func assertSame(_ a: [String: Tensor], _ b: [String: Tensor], prefix: String = "", _ what: String) {
        XCTAssertFalse(a.isEmpty)
        for (k, v) in a { XCTAssertEqual(b[prefix + k]?.toArray(), v.toArray(), "\(what): \(prefix + k)") }
    }

    func testTheBlip2ChainTrainsOnlyWhatThePapersTrainAndEveryOutputLoadsBack() throws {
        try run(#"{"recipe": "language-model", "output": "lm"}"#)
        try run(#"{"recipe": "blip2-vision", "output": "vision"}"#)
        try run(#"{"recipe": "blip2-stage1", "output": "s1", "vision": "vision"}"#)
        try run(#"{"recipe": "blip2-stage2", "output": "s2", "model": "s1", "language_model": "lm"}"#)
        try run(#"{"recipe": "minigpt4", "output": "minigpt4", "model": "s2", "language_model": "lm"}"#)

        let vision = try weights("vision"), s1 = try weights("s1"), s2 = try weights("s2"), lm = try weights("lm")
        assertSame(vision, s1, prefix: "vision_model.", "stage 1 keeps the vision tower frozen")
        assertSame(vision, s2, prefix: "vision_model.", "stage 2 keeps the vision tower frozen")
        assertSame(lm, s2, prefix: "language_model.", "stage 2 keeps the LLM frozen")
        XCTAssertNotEqual(s1["query_tokens"]!.toArray(), s2["query_tokens"]!.toArray(), "stage 2 trains the queries")
        XCTAssertNotNil(s1["cls.predictions.bias"], "stage 1 keeps LAVIS's ITG head")

        let retrieval = try Blip2ForImageTextRetrieval.load(directory.appendingPathComponent("s1"), trainingHeads: true)
        XCTAssertEqual(retrieval.cls!.predictions.bias.value.toArray(), s1["cls.predictions.bias"]!.toArray())
        let tokenizer = try WordPieceTokenizer(directory: directory.appendingPathComponent("s1"))
        XCTAssertEqual(
            tokenizer.encode("a small red circle ."),
            [2, 6, tokenizer.vocab["small"]!, tokenizer.vocab["red"]!, tokenizer.vocab["circle"]!, 1, 3])

        let pipeline = try GenerationPipeline(directory: directory.appendingPathComponent("s2"))
        let image = World().samples(.test, count: 1)[0].scene.render()
        _ = try pipeline.generate(
            prompt: "what color is the circle ?", images: [image], sampling: SamplingParameters(), maxTokens: 3)

        let minigpt4 = directory.appendingPathComponent("minigpt4")
        let (model, lmTokenizer, processor) = try MiniGPT4Alignment.load(minigpt4)
        assertSame(s2, try weights("minigpt4/blip2"), "minigpt4 keeps the BLIP-2 directory as it was")
        assertSame(lm, try weights("minigpt4/language_model"), "minigpt4 keeps the LLM frozen")
        let answer = try MiniGPT4Alignment.answer(
            model, tokenizer: lmTokenizer, question: "what color is the circle ?",
            pixels: processor.batch([image]))
        try assertTheMiniGPT4DirectoryGenerates(minigpt4, answer: answer, image: image)
        for folder in ["vision", "s1", "s2", "minigpt4"] {
            let eval =
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: directory.appendingPathComponent("\(folder)/eval.json"))) as! [String: Any]
            XCTAssertEqual(eval["split"] as? String, "test", folder)
        }
    }

    /// `vlkit generate`'s pipeline opens the recipe's MiniGPT-4 directory by its config.json and
    /// answers in MiniGPT-4's prompt format as the recipe's own `answer` does (up to `###`, where
    /// MiniGPT-4's answers end); a missing part is an error naming it.
    func assertTheMiniGPT4DirectoryGenerates(_ minigpt4: URL, answer: String, image: RGBImage) throws {
        let pipeline = try GenerationPipeline(directory: minigpt4)
        let prompt = try pipeline.format("what color is the circle ?", images: 1, raw: false).text
        XCTAssertEqual(prompt, MiniGPT4Alignment.prompt("what color is the circle ?"))
        let (model, tokenizer, processor) = try MiniGPT4Alignment.load(minigpt4)
        let recipeInput = try noGrad {
            try model.inputEmbeddings(prompt: prompt, tokenizer: tokenizer, pixels: processor.batch([image]))
        }
        XCTAssertEqual(
            try pipeline.prepare(prompt: "what color is the circle ?", images: [image]).embeddings.toArray(),
            recipeInput.toArray(),
            "the pipeline's input is the recipe's")
        let generated = try pipeline.generate(
            prompt: "what color is the circle ?", images: [image], sampling: SamplingParameters(), maxTokens: 8)
        let untilStop = answer.components(separatedBy: "###")[0].trimmingCharacters(in: .whitespaces)
        XCTAssertEqual(generated.text.trimmingCharacters(in: .whitespaces), untilStop)
        XCTAssertTrue(try ModelRegistry.load(ModelDirectory(minigpt4)) is MiniGPT4, "the registry opens MiniGPT-4")
        try FileManager.default.moveItem(
            at: minigpt4.appendingPathComponent("blip2"), to: minigpt4.appendingPathComponent("moved"))
        XCTAssertThrowsError(try GenerationPipeline(directory: minigpt4)) {
            XCTAssertTrue(
                "\($0)".contains("\"blip2\" is \(minigpt4.appendingPathComponent("blip2").path), which does not exist"),
                "\($0)")
        }
    }

    func testMiniGPT4TrainingPromptIsTheOneItAnswersWith() throws {
        try WorldTokenizers.writeLanguageModelTokenizer(to: directory)
        let tokenizer = try Tokenizer(directory: directory)
        let e = MiniGPT4Alignment.example(
            tokenizer, queries: 3, imageTokenId: 4, question: "what color is the circle ?", answer: "red", image: 0)
        let prompt = MiniGPT4Alignment.prompt("what color is the circle ?").components(
            separatedBy: MiniGPT4.imagePlaceholder)
        let expected = tokenizer.encode(prompt[0]) + [4, 4, 4] + tokenizer.encode(prompt[1], addSpecialTokens: false)
        XCTAssertEqual(Array(e.ids.prefix(expected.count)), expected)
        XCTAssertEqual(e.ids.suffix(2), [tokenizer.encode("red", addSpecialTokens: false)[0], 2])
        XCTAssertFalse(expected.contains(0), "the MiniGPT-4 format's words are in the world LLaMA's vocabulary")
        XCTAssertEqual(e.trained.filter { $0 }.count, 2)
    }

    func testStage1LossFallsWithTraining() throws {
        let world = World()
        let processor = CLIPPretraining.worldProcessor(imageSize: world.imageSize)
        let train = TrainingData.world(world.samples(.train, count: 64))
        GlobalRandom.seed(3)
        try WorldTokenizers.writeBertTokenizer(to: directory, maxLength: 32)
        let tokenizer = try WordPieceTokenizer(directory: directory)
        let vision = try Blip2VisionModel(Blip2VisionContrastive.worldVisionConfig())
        let model = try Blip2Pretraining.assembleStage1(vision: vision, vocabSize: tokenizer.vocab.count)
        let trainer = Trainer(
            model: model, settings: TrainingSettings(steps: 30, batchSize: 8, learningRate: 1e-3, warmupSteps: 3))
        XCTAssertFalse(trainer.optimizer.parameters.contains { $0 === vision.embeddings.patch_embedding.weight })
        let features = try train.images.encoded(processor: processor) { vision.features($0) }
        try Blip2Pretraining.trainStage1(
            model, features: features, captions: train.captions,
            tokenizer: tokenizer, decoderTokenId: tokenizer.vocab["[DEC]"]!, trainer: trainer)
        let losses = trainer.history.map(\.loss)
        let first = losses.prefix(5).reduce(0, +) / 5, last = losses.suffix(5).reduce(0, +) / 5
        XCTAssertLessThan(last, first * 0.8, "ITC + ITM + ITG: \(losses)")
    }

    func testRecipesNameTheMissingFieldOrTheWrongDirectory() throws {
        try run(#"{"recipe": "language-model", "output": "lm"}"#, steps: 1)
        let lm = directory.appendingPathComponent("lm").path
        let cases: [(String, String)] = [
            (#"{"recipe": "blip2-stage1", "output": "x"}"#, "blip2-stage1 needs \"vision\" (a blip2-vision directory)"),
            (
                #"{"recipe": "blip2-stage1", "output": "x", "vision": "lm"}"#,
                "\"vision\": \(lm) should be a blip2-vision directory: "
            ),
            (
                #"{"recipe": "blip2-stage2", "output": "x", "model": "nowhere", "language_model": "lm"}"#,
                "\"model\": \(directory.appendingPathComponent("nowhere").path) is not a directory"
            ),
            (
                #"{"recipe": "blip2-stage2", "output": "x", "model": "lm", "language_model": "lm"}"#,
                "\"model\": \(lm) should be a blip2-stage1 directory: "
            ),
            (
                #"{"recipe": "minigpt4", "output": "x", "model": "lm", "language_model": "lm"}"#,
                "\"model\": \(lm) should be a blip2-stage2 directory: "
            ),
            (
                #"{"recipe": "minigpt4", "output": "x", "language_model": "lm"}"#,
                "minigpt4 needs \"model\" (a blip2-stage2 directory)"
            ),
        ]
        for (json, message) in cases {
            XCTAssertThrowsError(try run(json, steps: 1)) { XCTAssertTrue("\($0)".hasPrefix(message), "\($0)") }
        }
        XCTAssertThrowsError(try run(#"{"recipe": "blip2-stage1", "output": "x", "vision": "lm"}"#, steps: 1)) {
            XCTAssertTrue("\($0)".contains("model_type is \"llama\", expected \"blip_2_vision_model\""), "\($0)")
        }
    }
}

extension Blip2RecipeTests {
    func testEveryReadyRecipeReads() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("recipes")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        XCTAssertTrue(files.contains("blip2-stage2.yaml"), "\(files)")
        for name in files {
            let recipe = try Recipe(contentsOf: folder.appendingPathComponent(name))
            // Each writes runs/<its file's name>, which starts with its recipe's name.
            let stem = (name as NSString).deletingPathExtension
            XCTAssertTrue(stem.hasPrefix(recipe.recipe.rawValue), name)
            XCTAssertEqual(
                URL(fileURLWithPath: recipe.output).standardized.path,
                folder.deletingLastPathComponent().appendingPathComponent("runs").path + "/" + stem,
                name)
        }
    }
}
