import Foundation
import VLImaging
import VLModels
import VLNN
import VLTensor
import VLTokenizers

/// `vlkit demo`: the whole system learning on the built-in world — CLIP pre-training, a small
/// LLaMA pre-trained on the world's text, LLaVA stage 1 (projector) and stage 2 (projector + LLM),
/// then every metric on held-out scenes, next to its chance level.
public struct Demo {
    public struct Options: Codable, Sendable {
        public var trainScenes = 4000
        public var testScenes = 200
        public var seed: UInt64 = 0
        public var clip = TrainingSettings(steps: 400, batchSize: 64, learningRate: 1e-3, warmupSteps: 20)
        public var languageModel = TrainingSettings(steps: 150, batchSize: 32, learningRate: 2e-3, warmupSteps: 15)
        public var stage1 = TrainingSettings(steps: 100, batchSize: 32, learningRate: 2e-3, warmupSteps: 10)
        public var stage2 = TrainingSettings(steps: 700, batchSize: 32, learningRate: 1e-3, warmupSteps: 30)
        /// Each connector of `--compare-connectors` (the language model frozen).
        public var connectors = TrainingSettings(steps: 300, batchSize: 32, learningRate: 2e-3, warmupSteps: 20)
        public init() {}
    }

    public var options = Options()
    public var outputDirectory: URL
    public var log: (String) -> Void = { print($0) }
    /// Progress of a training stage: its name and settings, the step just done.
    public var onStep: (String, TrainingSettings, StepRecord) -> Void = { _, _, _ in }
    /// Progress of evaluation: name, total items, items done.
    public var onEvaluate: (String, Int, Int) -> Void = { _, _, _ in }

    public init(outputDirectory: URL) { self.outputDirectory = outputDirectory }

    /// What the alignment stages start from: the world, a pre-trained CLIP and language model.
    public struct Pretrained {
        public let train: TrainingData
        public let test: WorldData
        public let novel: [WorldSample]
        public let processor: ImageProcessor
        public let clip: CLIPModel
        public let languageModel: LlamaForCausalLM
        public let tokenizer: Tokenizer
        public let llavaDirectory: URL
    }

    /// The recipe files the stages run, in `recipes/` of the working directory or of the source
    /// tree this was built from.
    public static func recipesFolder() throws -> URL {
        let candidates = [
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("recipes"),
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("recipes"),
        ]
        guard
            let folder = candidates.first(where: {
                FileManager.default.fileExists(atPath: $0.appendingPathComponent("llava-stage2.json").path)
            })
        else {
            throw RecipeError(
                "vlkit demo runs the recipes in recipes/ (clip.json, language-model.json, llava-stage1.json, llava-stage2.json): "
                    + "found neither in \(candidates.map(\.path).joined(separator: " nor in ")); run it from the repository"
            )
        }
        return folder
    }

    /// `recipes/<file>` with the demo's schedule (`settings`), world and seed set over it as
    /// `--set` would set them (no checkpoints), and `fields` (its inputs and output, absolute paths).
    func recipe(_ file: String, _ settings: TrainingSettings, _ fields: [String: URL]) throws -> Recipe {
        let schedule = [
            "training.steps=\(settings.steps)", "training.batch_size=\(settings.batchSize)",
            "training.learning_rate=\(settings.learningRate)", "training.warmup_steps=\(settings.warmupSteps)",
            "training.checkpoint_every=0", "training.seed=\(options.seed &+ settings.seed)",
            "world.train_scenes=\(options.trainScenes)", "world.seed=\(options.seed)",
        ]
        return try Recipe(
            contentsOf: Demo.recipesFolder().appendingPathComponent(file),
            overrides: schedule + fields.sorted { $0.key < $1.key }.map { "\($0.key)=\(absolute($0.value).path)" })
    }

    private func absolute(_ url: URL) -> URL {
        url.path.hasPrefix("/")
            ? url : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(url.path)
    }

    /// Runs `recipe`; the trainers its stages made, by stage name.
    func run(_ recipe: Recipe) throws -> [String: Trainer] {
        final class Made { var trainers: [String: Trainer] = [:] }
        let made = Made()
        var r = runner
        r.onTrainer = { made.trainers[$0] = $1 }
        try r.run(recipe)
        return made.trainers
    }

    /// Generates the world, pre-trains CLIP (evaluated into `result`) and the language model with
    /// recipes/clip.json and recipes/language-model.json.
    public func pretrain(into result: inout DemoResult) throws -> Pretrained {
        let world = World()
        let processor = CLIPPretraining.worldProcessor(imageSize: world.imageSize)
        let train = TrainingData.world(
            world.samples(.train, count: options.trainScenes, seed: options.seed), seed: options.seed)
        let test = WorldData(world.samples(.test, count: options.testScenes, seed: options.seed), processor: processor)
        let novel = world.samples(.compositional, count: options.testScenes / 2, seed: options.seed)
        log(
            "world: \(train.scenes.count) training scenes, \(test.samples.count) test scenes, \(novel.count) with held-out colour–shape pairs"
        )

        // CLIP from scratch on captions, and a small LLaMA on the world's text.
        let clipDir = outputDirectory.appendingPathComponent("clip"),
            lmDir = outputDirectory.appendingPathComponent("language-model")
        result.curves["clip"] = try run(recipe("clip.json", options.clip, ["output": clipDir]))["clip"]?.history.map(
            \.loss)
        let clip = try CLIPModel.load(directory: clipDir)
        let clipTokenizer = try CLIPTokenizer(directory: clipDir)
        let zeroShot = WorldEvaluation.zeroShot(clip, tokenizer: clipTokenizer, data: test)
        (result.zeroShotAccuracy, result.zeroShotChance) = (zeroShot.accuracy, zeroShot.chance)
        let retrieval = WorldEvaluation.retrieval(
            clip, tokenizer: clipTokenizer, data: test.withDistinctCaptions(processor: processor))
        result.retrievalR1 = retrieval.textToImage[1] ?? 0
        result.retrievalR5 = retrieval.textToImage[5] ?? 0
        result.retrievalR10 = retrieval.textToImage[10] ?? 0
        log(
            String(
                format: "clip: zero-shot %.1f%% (chance %.1f%%), text→image R@1 %.1f%%", 100 * zeroShot.accuracy,
                100 * zeroShot.chance,
                100 * result.retrievalR1))
        result.curves["language model"] = try run(
            recipe("language-model.json", options.languageModel, ["output": lmDir]))["language model"]?
            .history.map(\.loss)
        let lm = try LlamaForCausalLM.load(directory: lmDir)
        return Pretrained(
            train: train, test: test, novel: novel, processor: processor, clip: clip, languageModel: lm,
            tokenizer: try Tokenizer(directory: lmDir), llavaDirectory: outputDirectory.appendingPathComponent("llava"))
    }

    /// The default demo: pre-training, LLaVA's two stages (recipes/llava-stage1.json, then
    /// recipes/llava-stage2.json on its output, both writing `llava/`), evaluation of everything.
    public func run() throws -> DemoResult {
        let started = Date()
        var result = DemoResult()
        let p = try pretrain(into: &result)
        let test = p.test

        // LLaVA: stage 1 aligns the projector on captions, stage 2 tunes projector + LLM on questions.
        let llavaDir = p.llavaDirectory
        let stage1 = try run(
            recipe(
                "llava-stage1.json", options.stage1,
                [
                    "vision": outputDirectory.appendingPathComponent("clip"),
                    "language_model": outputDirectory.appendingPathComponent("language-model"),
                    "output": llavaDir,
                ]))["llava stage 1"]!
        let stage2 = try run(recipe("llava-stage2.json", options.stage2, ["model": llavaDir, "output": llavaDir]))[
            "llava stage 2"]!
        result.curves["llava stage 1"] = stage1.history.map(\.loss)
        result.curves["llava stage 2"] = stage2.history.map(\.loss)
        result.trainableParameters["llava stage 1"] = stage1.optimizer.parameters.reduce(0) { $0 + $1.value.count }
        result.trainableParameters["llava stage 2"] = stage2.optimizer.parameters.reduce(0) { $0 + $1.value.count }

        // Evaluation through the saved directory, as `vlkit generate` would load it.
        let pipeline = try GenerationPipeline(directory: llavaDir)
        var done = 0
        let captioned = Array(test.samples.prefix(50))
        let total = test.samples.count + p.novel.count + captioned.count
        let outcomes = try WorldEvaluation.answers(pipeline, samples: test.samples) {
            done += 1; onEvaluate("evaluation", total, done)
        }
        result.vqa = VQAAccuracy(outcomes)
        result.compositionalVQA = VQAAccuracy(
            try WorldEvaluation.answers(pipeline, samples: p.novel) {
                done += 1; onEvaluate("evaluation", total, done)
            })
        let captions = try WorldEvaluation.captions(pipeline, samples: captioned) {
            done += 1; onEvaluate("evaluation", total, done)
        }
        (result.bleu4, result.cider) = (captions.bleu4, captions.cider)
        result.answered = zip(test.samples.flatMap { s in s.questions.map { (s, $0) } }, outcomes).map {
            pair, outcome in
            DemoResult.Answered(sample: pair.0, question: pair.1, answer: outcome.prediction)
        }
        result.seconds = Date().timeIntervalSince(started)
        return result
    }

    /// `--compare-connectors`: every connector family between the same frozen towers, trained on
    /// the same examples for the same steps; VQA and captions on the test scenes.
    public func compareConnectors(
        families: [ConnectorFamily] = ConnectorFamily.allCases
    ) throws -> (DemoResult, [ConnectorScore]) {
        var result = DemoResult()
        let p = try pretrain(into: &result)
        let tokenizer = p.tokenizer
        let imageToken = tokenizer.addedTokens.first { $0.content == "<image>" }!.id
        let (vision, features, testFeatures) = try visionFeatures(p)
        var scores: [ConnectorScore] = []
        for family in families {
            GlobalRandom.seed(options.seed &+ 17)
            let variant = try ConnectorVariant.make(
                family, visionWidth: vision.featureSize, featureTokens: features.shape[1],
                languageModel: p.languageModel, imageTokenId: imageToken)
            let examples = p.train.turns.map {
                variant.example(tokenizer, question: $0.question, answer: $0.answer, image: $0.image)
            }
            let started = Date()
            let trainer = Trainer(model: variant.model, settings: options.connectors)
            trainer.onStep = { onStep(family.rawValue, options.connectors, $0) }
            try variant.train(
                examples: examples, features: features, padId: tokenizer.padTokenId ?? 0, trainer: trainer)
            let seconds = Date().timeIntervalSince(started)
            let vqa = try testAccuracy(variant, p, features: testFeatures) {
                onEvaluate(family.rawValue, p.test.samples.count, $0)
            }
            let captioned = min(40, p.test.samples.count)
            let candidates = try (0..<captioned).map {
                try variant.answer(
                    tokenizer, question: WorldEvaluation.captionRequest,
                    features: testFeatures.narrow(0, start: $0, length: 1),
                    maxTokens: 30
                ).split(separator: " ").map(String.init)
            }
            let references = p.test.samples.prefix(captioned).map {
                [$0.caption.split(separator: " ").map(String.init)]
            }
            scores.append(
                ConnectorScore(
                    family: family, trainableParameters: trainer.optimizer.parameters.reduce(0) { $0 + $1.value.count },
                    imageTokens: variant.imageTokens, vqa: vqa,
                    bleu4: bleu4(candidates: candidates, references: references),
                    cider: cider(candidates: candidates, references: references), seconds: seconds,
                    finalLoss: trainer.history.last?.loss ?? .nan))
            log(
                String(
                    format: "%@: VQA %.1f%%, CIDEr %.2f, %.0f s", family.rawValue,
                    100 * scores.last!.vqa.overall.accuracy, scores.last!.cider, seconds))
        }
        return (result, scores)
    }

    /// `--vpg-transfer` (VPGTrans): an MLP projector trained on the demo's LLaMA, moved to a second,
    /// differently sized LLaMA through a word-embedding converter, against the same projector
    /// trained there from scratch for the same steps. Both target-side runs keep the LLM frozen.
    /// The `vpgtrans` recipe runs the same phases (`VPGTransfer.Setting`) on a trained LLaVA.
    public func transferVPG() throws -> VPGTransferResult {
        var result = DemoResult()
        let p = try pretrain(into: &result)
        let tokenizer = p.tokenizer
        let imageToken = tokenizer.addedTokens.first { $0.content == "<image>" }!.id
        let (vision, features, testFeatures) = try visionFeatures(p)
        let steps = options.connectors
        let examples = p.train.scenes.indices.flatMap { i in
            p.train.scenes[i].questions.map {
                LlavaAlignment.example(
                    tokenizer, question: $0.question, answer: $0.answer, image: i, imageTokenId: imageToken,
                    imageTokens: features.shape[1])
            }
        }
        func setting(_ lm: LlamaForCausalLM) -> VPGTransfer.Setting {
            var s = VPGTransfer.Setting(
                languageModel: lm, imageTokenId: imageToken, features: features, examples: examples,
                padId: tokenizer.padTokenId ?? 0)
            s.makeTrainer = { [onStep] phase, model, settings in
                let trainer = Trainer(model: model, settings: settings)
                trainer.onStep = { onStep(phase.rawValue, settings, $0) }
                return trainer
            }
            return s
        }
        func accuracy(_ variant: ConnectorVariant) throws -> Double {
            try testAccuracy(variant, p, features: testFeatures).overall.accuracy
        }
        GlobalRandom.seed(options.seed &+ 101)
        let source = MLPProjector(inputSize: vision.featureSize, outputSize: p.languageModel.config.hiddenSize)
        try setting(p.languageModel).train(source, .source, steps)

        // A second LLaMA, wider and separately pre-trained: the "new LLM" of VPGTrans.
        var targetSettings = options.languageModel
        targetSettings.seed &+= 7
        GlobalRandom.seed(options.seed &+ 202)
        let (target, _, _) = try runner.trainLanguageModel(
            on: p.train, settings: targetSettings,
            output: outputDirectory.appendingPathComponent("language-model-2"), hidden: 192)
        let onTarget = setting(target)
        GlobalRandom.seed(options.seed &+ 303)
        let (scratchVariant, scratch) = try onTarget.train(
            MLPProjector(inputSize: vision.featureSize, outputSize: 192), .scratch, steps)

        let converter = try VPGTransfer.trainEmbeddingConverter(
            source: p.languageModel.model.embed_tokens.weight.value,
            target: target.model.embed_tokens.weight.value)
        let warmup = max(1, steps.steps / 10)
        var rest = steps
        rest.steps = steps.steps - warmup
        let (transferVariant, warm, fine) = try onTarget.transfer(
            VPGTransfer.transferred(source, converter: converter), warmupSteps: warmup,
            finetune: rest)
        let comparison = VPGTransfer.Comparison(
            transfer: (warm.history + fine.history).map(\.loss), scratch: scratch.history.map(\.loss))
        return VPGTransferResult(
            steps: steps.steps, scratchLoss: comparison.scratchLoss,
            transferStepsToScratchLoss: comparison.transferStepsToScratchLoss,
            scratchAccuracy: try accuracy(scratchVariant), transferAccuracy: try accuracy(transferVariant))
    }

    /// The frozen CLIP tower's features (the LLaVA selection) of the training and test scenes.
    private func visionFeatures(_ p: Pretrained) throws -> (vision: CLIPVisionModel, train: Tensor, test: Tensor) {
        let vision = try CLIPVisionModel(p.clip.config.vision, selection: RecipeRunner.worldFeatureSelection)
        try vision.load(stateDict: p.clip.vision_model.stateDict().mapKeys { "vision_model." + $0 })
        let train = try p.train.images.encoded(processor: p.processor) { vision.features($0) }
        return noGrad { (vision, train, vision.features(p.test.pixels)) }
    }

    /// Greedy answers of `variant` to every test question; `progress` gets the scenes done.
    private func testAccuracy(
        _ variant: ConnectorVariant, _ p: Pretrained, features: Tensor,
        progress: (Int) -> Void = { _ in }
    ) throws -> VQAAccuracy {
        var outcomes: [VQAOutcome] = []
        for (i, s) in p.test.samples.enumerated() {
            let f = features.narrow(0, start: i, length: 1)
            for qa in s.questions {
                outcomes.append(
                    VQAOutcome(
                        questionType: qa.type.rawValue,
                        prediction: try variant.answer(p.tokenizer, question: qa.question, features: f),
                        truth: qa.answer))
            }
            progress(i + 1)
        }
        return VQAAccuracy(outcomes)
    }

    private var runner: RecipeRunner {
        var r = RecipeRunner()
        r.onStep = { [onStep] in onStep($0, $1, $2) }
        return r
    }
}

/// What the demo measured.
public struct DemoResult {
    public var zeroShotAccuracy = 0.0, zeroShotChance = 0.0
    public var retrievalR1 = 0.0, retrievalR5 = 0.0, retrievalR10 = 0.0
    public var vqa = VQAAccuracy([])
    public var compositionalVQA = VQAAccuracy([])
    public var bleu4 = 0.0, cider = 0.0
    public var curves: [String: [Float]] = [:]
    public var trainableParameters: [String: Int] = [:]
    /// Test questions with the model's answers, for the report.
    public var answered: [Answered] = []
    public var seconds = 0.0

    public struct Answered {
        public var sample: WorldSample
        public var question: QuestionAnswer
        public var answer: String
    }
}

/// VPGTrans against training the projector from scratch on the new LLM.
public struct VPGTransferResult {
    public var steps: Int
    /// The scratch run's loss over its last 20 steps.
    public var scratchLoss: Float
    /// Steps (warm-up included) the transferred VPG needed to reach that loss; nil if it never did.
    public var transferStepsToScratchLoss: Int?
    public var scratchAccuracy: Double
    public var transferAccuracy: Double
}

/// One row of the connector comparison.
public struct ConnectorScore {
    public var family: ConnectorFamily
    public var trainableParameters: Int
    public var imageTokens: Int
    public var vqa: VQAAccuracy
    public var bleu4: Double
    public var cider: Double
    public var seconds: Double
    public var finalLoss: Float
}
