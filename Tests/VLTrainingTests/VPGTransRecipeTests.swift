import Foundation
import VLIO
import VLModels
import VLNN
import VLTensor
import VLTokenizers
import XCTest
@testable import VLTraining
import VLTestSupport

/// The vpgtrans recipe: its file and fields, the converter folded into the moved projector, and a
/// tiny run from a llava-stage1 output to a wider LLaMA, interrupted and resumed.
final class VPGTransRecipeTests: TemporaryDirectoryTestCase {

    func assertError(
        _ text: String, _ name: String = "r.yaml", overrides: [String] = [], contains expected: String,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let url = try self.file(name, text)
        XCTAssertThrowsError(try Recipe(contentsOf: url, overrides: overrides), file: file, line: line) {
            XCTAssertTrue("\($0)".contains(expected), "\($0)", file: file, line: line)
        }
    }

    func testTheReadyRecipeReadsAndBadFieldsAreNamed() throws {
        let recipes = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("recipes")
        let ready = try Recipe(contentsOf: recipes.appendingPathComponent("vpgtrans.yaml"))
        XCTAssertEqual(ready.recipe, "vpgtrans")
        XCTAssertEqual(ready.model.map { URL(fileURLWithPath: $0).standardized.lastPathComponent }, "llava-stage1")
        XCTAssertEqual(
            ready.languageModel.map { URL(fileURLWithPath: $0).standardized.lastPathComponent }, "language-model-wide")
        XCTAssertEqual(ready.vpgtrans?.compareScratch, true)
        XCTAssertEqual(ready.vpgtrans?.projectorWarmupLRScale, 5)
        let wide = try Recipe(contentsOf: recipes.appendingPathComponent("language-model-wide.yaml"))
        XCTAssertEqual(wide.config, Recipe.ModelConfig(hiddenSize: 192, numHiddenLayers: 4))

        let base = "recipe: vpgtrans\noutput: out\nmodel: s1\nlanguage_model: lm\n"
        let parsed = try Recipe(
            contentsOf: file("ok.yaml", base + "vpgtrans: {projector_warmup_epochs: 1, compare_scratch: true}\n"),
            overrides: ["vpgtrans.converter_steps=7"])
        XCTAssertEqual(parsed.vpgtrans?.converterSteps, 7)
        XCTAssertEqual(
            parsed.vpgtrans?.warmupSteps(examples: 100, batchSize: 32), 4, "one epoch of 100 examples in batches of 32")
        XCTAssertEqual(Recipe.VPGTrans().projectorWarmupLRScale, 5)

        try assertError(
            base + "vpgtrans: {projector_warmup_step: 3}\n",
            contains: "\"vpgtrans.projector_warmup_step\" is not a recipe field")
        try assertError(base + "langauge_model: lm\n", contains: "\"langauge_model\" is not a recipe field")
        try assertError(base, overrides: ["training.stpes=3"], contains: "\"training.stpes\" is not a recipe field")
        try assertError("recipe: vpgtrans\noutput: out\nlanguage_model: lm\n", contains: "vpgtrans needs \"model\"")
        try assertError("recipe: vpgtrans\noutput: out\nmodel: s1\n", contains: "vpgtrans needs \"language_model\"")
        try assertError(base + "vision: clip\n", contains: "\"vision\" is not read by vpgtrans")
        try assertError(
            base + "vpgtrans: {compare_scratch: maybe}\n", contains: "\"vpgtrans.compare_scratch\" has the wrong type")
        try assertError(
            base + "vpgtrans: {projector_warmup_steps: 3, projector_warmup_epochs: 1}\n", contains: "cannot both be set"
        )
        try assertError(
            base, overrides: ["vpgtrans.converter_steps=0"], contains: "\"vpgtrans.converter_steps\" must be positive")
        try assertError(
            base + "vpgtrans: {projector_warmup_epochs: -1}\n",
            contains: "\"vpgtrans.projector_warmup_epochs\" must be positive")
        try assertError(
            base + "vpgtrans: {converter_tokens: some}\n",
            contains: "\"vpgtrans.converter_tokens\" is not valid (all or data)")
        try assertError(
            base + "vpgtrans: {validation_every: -1}\n",
            contains: "\"vpgtrans.validation_every\" must be 0 (none) or positive")
        XCTAssertEqual(
            try Recipe(contentsOf: file("d.yaml", base + "vpgtrans: {converter_tokens: data}\n")).vpgtrans?
                .converterTokens, .data)
        try assertError(
            "recipe: clip\noutput: o\nvpgtrans: {}\n", contains: "\"vpgtrans\" is read only by the vpgtrans recipe")
        try assertError(
            "recipe: clip\noutput: o\nconfig: {hidden_size: 64}\n",
            contains: "\"config\" is read only by the language-model recipe")
        try assertError(
            "recipe: language-model\noutput: o\nconfig: {hidden_size: 100}\n",
            contains: "\"config.hidden_size\" must be a multiple of 32")
    }

    func testTheComparisonFindsWhenEachRunReachesTheOthersFinalLoss() {
        typealias P = VPGTransfer.Comparison.Point
        let c = VPGTransfer.Comparison(
            transfer: [P(step: 10, loss: 1), P(step: 20, loss: 0.5), P(step: 30, loss: 0.4)],
            scratch: [P(step: 10, loss: 2), P(step: 20, loss: 0.8), P(step: 30, loss: 0.6)], steps: 30, measure: "m")
        XCTAssertEqual(c.scratchLoss, 0.6)
        XCTAssertEqual(c.transferStepsToScratchLoss, 20)
        XCTAssertEqual(c.stepsSaved, 10)
        XCTAssertNil(c.scratchStepsToTransferLoss)
        // Training losses: means over a window, as stepsToReach.
        let t = VPGTransfer.Comparison(transfer: [5, 4, 3, 2, 1, 1, 1], scratch: [6, 5, 4, 3, 3, 2, 2], window: 2)
        XCTAssertEqual(t.scratchLoss, 2)
        XCTAssertEqual(
            t.transferStepsToScratchLoss, VPGTransfer.stepsToReach(2, losses: [5, 4, 3, 2, 1, 1, 1], window: 2))
        XCTAssertEqual(t.scratchStepsToTransferLoss, nil)
        XCTAssertEqual(t.measure, "training loss, mean of 2 steps")
    }

    /// The world's LLaMA tokenizer, written to `folder`.
    func tokenizer(_ folder: String = "tokenizer") throws -> Tokenizer {
        let dir = directory.appendingPathComponent(folder)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try WorldTokenizers.writeLanguageModelTokenizer(to: dir)
        return try Tokenizer(directory: dir)
    }

    /// A tiny world CLIP (hidden 32), written with its tokenizer to `folder` when given.
    func clip(_ folder: String? = nil) throws -> CLIPModel {
        let dir = directory.appendingPathComponent(folder ?? "clip-tokenizer")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let clip = try CLIPModel(
            CLIPPretraining.worldConfig(
                vocabSize: try WorldTokenizers.writeCLIPTokenizer(to: dir, maxLength: 32),
                imageSize: 64, hidden: 32, layers: 2))
        if folder != nil { try HFExport.write(clip, processor: CLIPPretraining.worldProcessor(imageSize: 64), to: dir) }
        return clip
    }

    /// A one-layer world LLaMA of width `width`, written with its tokenizer to `folder` when given.
    func languageModel(_ folder: String? = nil, width: Int) throws -> LlamaForCausalLM {
        let tokenizer = try self.tokenizer(folder ?? "tokenizer")
        let lm = try LlamaForCausalLM(
            LanguageModelPretraining.worldConfig(vocabSize: tokenizer.vocabSize, hidden: width, layers: 1))
        if let folder { try HFExport.write(lm, to: directory.appendingPathComponent(folder)) }
        return lm
    }

    func testMovingFoldsTheConverterIntoTheSourceProjectorAndKeepsItsFirstLayer() throws {
        GlobalRandom.seed(51)
        let (clip, lm, tokenizer) = (try clip(), try languageModel(width: 32), try tokenizer())
        let imageToken = tokenizer.tokenId("<image>")!
        let source = try LlavaAlignment.assemble(
            clip: clip, languageModel: lm, imageTokenId: imageToken, selection: RecipeRunner.worldFeatureSelection)
        let target = try LlamaForCausalLM(
            LanguageModelPretraining.worldConfig(vocabSize: tokenizer.vocabSize, hidden: 64, layers: 1))
        // The target's embeddings a linear image of the source's: the converter can find it.
        var rng = RandomGenerator(seed: 52)
        target.model.embed_tokens.weight.value = matmul(
            lm.model.embed_tokens.weight.value, Tensor.randn([32, 64], rng: &rng))
        let moved = try VPGTransfer.move(
            source, sourceTokenizer: tokenizer, to: target, tokenizer: tokenizer, imageTokenId: imageToken,
            converterSteps: 200, converterLearningRate: 3e-2)
        XCTAssertLessThan(moved.converterLoss, 0.05)
        XCTAssertEqual(
            moved.sharedTokens, Set(tokenizer.bpe.vocab.keys).union(tokenizer.addedTokens.map(\.content)).count - 1,
            "every token but <image>")

        let sourceProjector = source.multi_modal_projector as! MLPProjector
        let projector = moved.llava.multi_modal_projector as! MLPProjector
        XCTAssertEqual(projector.linear_1.weight.shape, [64, 32])
        XCTAssertEqual(
            projector.linear_1.weight.value.narrow(0, start: 0, length: 32).toArray(),
            sourceProjector.linear_1.weight.value.toArray(),
            "the first layer is the source's")
        XCTAssertEqual(
            projector.linear_1.bias!.value.narrow(0, start: 0, length: 32).toArray(),
            sourceProjector.linear_1.bias!.value.toArray())
        XCTAssertTrue(
            projector.linear_2.weight.value.narrow(1, start: 32, length: 32).toArray().allSatisfy { $0 == 0 },
            "the widened units start silent")
        let x = Tensor.randn([2, 5, 32], rng: &rng)
        let expected = noGrad { VPGTransfer.transferred(sourceProjector, converter: moved.converter)(x).toArray() }
        let got = noGrad { projector(x).toArray() }
        XCTAssertEqual(got.count, expected.count)
        for (a, b) in zip(got, expected) { XCTAssertEqual(a, b, accuracy: 1e-5) }

        XCTAssertEqual(moved.llava.config.text, target.config)
        for (k, v) in target.stateDict() {
            XCTAssertEqual(moved.llava.language_model.stateDict()[k]?.toArray(), v.toArray(), k)
        }
        for (k, v) in source.vision_tower.stateDict() {
            XCTAssertEqual(moved.llava.vision_tower.stateDict()[k]?.toArray(), v.toArray(), k)
        }
        XCTAssertThrowsError(try VPGTransfer.widenedState(sourceProjector, hiddenSize: 16)) {
            XCTAssertTrue("\($0)".contains("at least as wide as the source"), "\($0)")
        }
    }

    /// llava-stage1 on a tiny CLIP and LLaMA (hidden 32) → "source"; a LLaMA of width 64 → "target".
    func writeSourceAndTarget() throws {
        GlobalRandom.seed(53)
        _ = try clip("clip")
        _ = try languageModel("lm", width: 32)
        _ = try languageModel("target", width: 64)
        _ = try languageModel("narrow", width: 16)
        try RecipeRunner().run(
            recipe(#"{"recipe": "llava-stage1", "output": "source", "vision": "clip", "language_model": "lm"}"#))
    }

    let tiny = [
        "world.train_scenes=16", "world.test_scenes=2", "training.steps=3", "training.batch_size=4",
        "training.warmup_steps=0",
        "training.checkpoint_every=1",
    ]

    func recipe(_ json: String, _ overrides: [String] = []) throws -> Recipe {
        try Recipe(contentsOf: file("recipe-\(UUID().uuidString).json", json), overrides: tiny + overrides)
    }

    func vpgtrans(_ output: String, language: String = "target") throws -> Recipe {
        try recipe(
            #"{"recipe": "vpgtrans", "output": "\#(output)", "model": "source", "language_model": "\#(language)"}"#,
            [
                "vpgtrans.converter_steps=20", "vpgtrans.projector_warmup_steps=2", "vpgtrans.compare_scratch=true",
                "vpgtrans.validation_every=2", "vpgtrans.validation_scenes=2",
            ])
    }

    func testATinyRunWritesALlavaForTheTargetAndResumesAnInterruptedRunBitForBit() throws {
        try writeSourceAndTarget()
        var runner = RecipeRunner()
        var logged: [String] = []
        runner.log = { logged.append($0) }
        try runner.run(vpgtrans("out"))
        let out = directory.appendingPathComponent("out")

        // A LLaVA directory: the source's vision tower, the target's LLM, loadable as `vlkit generate` loads it.
        let llava = try LlavaForConditionalGeneration.load(directory: out)
        let source = try LlavaForConditionalGeneration.load(directory: directory.appendingPathComponent("source"))
        let target = try LlamaForCausalLM.load(directory: directory.appendingPathComponent("target"))
        XCTAssertEqual(llava.config.text.hiddenSize, 64)
        for (k, v) in target.stateDict() {
            XCTAssertEqual(llava.language_model.stateDict()[k]?.toArray(), v.toArray(), "the LLM is the target's: \(k)")
        }
        for (k, v) in source.vision_tower.stateDict() {
            XCTAssertEqual(llava.vision_tower.stateDict()[k]?.toArray(), v.toArray(), k)
        }
        let image = World().samples(.test, count: 1)[0].scene.render()
        let answer = try GenerationPipeline(directory: out).generate(
            prompt: "what color is the circle ?", images: [image],
            sampling: SamplingParameters(), maxTokens: 3)
        XCTAssertGreaterThan(answer.tokens.count, 0)
        XCTAssertNoThrow(try GenerationPipeline(directory: out.appendingPathComponent("scratch")))

        // The warm-up trains linear_2 alone; the fine-tuning the whole MLP.
        func trained(_ phase: String, _ step: Int) throws -> [String] {
            try SafetensorsFile(
                path: out.appendingPathComponent(
                    "checkpoints/\(phase)/step-\(String(format: "%06d", step))/weights.safetensors"
                ).path
            )
            .names.sorted()
        }
        XCTAssertEqual(try trained("warmup", 2), ["connector.linear_2.bias", "connector.linear_2.weight"])
        XCTAssertEqual(
            try trained("finetune", 3),
            [
                "connector.linear_1.bias", "connector.linear_1.weight", "connector.linear_2.bias",
                "connector.linear_2.weight",
            ])

        let report =
            try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("vpgtrans.json")))
            as! [String: Any]
        func section(_ name: String) -> [String: Any] { report[name] as? [String: Any] ?? [:] }
        XCTAssertNotNil(section("converter")["cosine_loss"] as? Double)
        XCTAssertEqual((section("warmup")["losses"] as? [Double])?.count, 2)
        XCTAssertEqual(
            section("warmup")["learning_rate"] as? Double ?? 0, 5 * 2e-3, accuracy: 1e-9, "5× the fine-tuning rate")
        XCTAssertEqual((section("finetune")["losses"] as? [Double])?.count, 3)
        XCTAssertEqual(
            (section("scratch")["losses"] as? [Double])?.count, 5, "from scratch for warm-up + fine-tuning steps")
        XCTAssertEqual(section("comparison")["steps"] as? Int, 5)
        XCTAssertTrue(
            (section("comparison")["measure"] as? String ?? "").hasPrefix("validation loss ("),
            "\(section("comparison"))")
        for (name, steps) in [("warmup", [2]), ("finetune", [2, 3]), ("scratch", [2, 4, 5])] {
            XCTAssertEqual((section(name)["validation"] as? [[Any]])?.map { $0[0] as? Int }, steps, name)
        }
        XCTAssertGreaterThan(section("vqa")["questions"] as? Int ?? 0, 0)
        XCTAssertNotNil(section("scratch_vqa")["vqa_accuracy"] as? Double)
        for prefix in [
            "vpgtrans: word-embedding converter 32 → 64", "vpgtrans: warm-up 2 steps", "vpgtrans: validation loss (",
            "vpgtrans: test VQA of the transferred model on 2 scenes",
        ] {
            XCTAssertTrue(logged.contains { $0.hasPrefix(prefix) }, "\(prefix): \(logged)")
        }

        // Interrupted in the fine-tuning, then resumed: the same model and curves as the run above.
        struct Stop: Error {}
        var interrupted = RecipeRunner()
        interrupted.onStep = { stage, _, record in
            if stage == VPGTransfer.Phase.finetune.rawValue && record.step == 2 { throw Stop() }
        }
        XCTAssertThrowsError(try interrupted.run(vpgtrans("again")))
        var resumed = RecipeRunner()
        resumed.resume = true
        try resumed.run(vpgtrans("again"))
        let again = directory.appendingPathComponent("again")
        let (a, b) = (
            try loadSafetensors(path: out.appendingPathComponent("model.safetensors").path),
            try loadSafetensors(path: again.appendingPathComponent("model.safetensors").path)
        )
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (k, v) in a { XCTAssertEqual(b[k]?.toArray(), v.toArray(), k) }
        let resumedReport =
            try JSONSerialization.jsonObject(with: Data(contentsOf: again.appendingPathComponent("vpgtrans.json")))
            as! [String: Any]
        for name in ["warmup", "finetune", "scratch"] {
            for curve in ["losses", "validation"] {
                XCTAssertEqual(
                    "\((resumedReport[name] as? [String: Any])?[curve] ?? "none")", "\(section(name)[curve] ?? "none")",
                    "\(name) \(curve)")
            }
        }

        // Inputs that cannot be used name their field.
        XCTAssertThrowsError(try RecipeRunner().run(vpgtrans("x", language: "narrow"))) {
            XCTAssertTrue(
                "\($0)".hasPrefix("\"language_model\": ") && "\($0)".contains("narrower than the source LLM (32)"),
                "\($0)")
        }
        XCTAssertThrowsError(try RecipeRunner().run(vpgtrans("x", language: "source"))) {
            XCTAssertTrue("\($0)".hasPrefix("\"language_model\": "), "\($0)")
        }
        XCTAssertThrowsError(
            try RecipeRunner().run(
                recipe(#"{"recipe": "vpgtrans", "output": "x", "model": "lm", "language_model": "target"}"#))
        ) {
            XCTAssertTrue("\($0)".hasPrefix("\"model\": ") && "\($0)".contains("LLaVA"), "\($0)")
        }
    }
}
