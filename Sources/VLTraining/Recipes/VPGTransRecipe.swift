import Foundation
import VLFiles
import VLImaging
import VLIO
import VLModels
import VLNN
import VLTensor
import VLTokenizers

/// What the `vpgtrans` recipe measured; written to `<output>/vpgtrans.json`.
public struct VPGTransReport {
    public var sharedTokens: Int
    public var converterSteps: Int
    /// Mean 1 − cos between the converted source embeddings and the target's, after training.
    public var converterLoss: Float
    public var warmup: TrainingSettings
    public var finetune: TrainingSettings
    public var warmupLosses: [Float]
    public var finetuneLosses: [Float]
    public var scratchLosses: [Float]?
    /// Held-out losses (steps counted within each phase), when measured.
    public var warmupValidation: [VPGTransfer.Comparison.Point] = []
    public var finetuneValidation: [VPGTransfer.Comparison.Point] = []
    public var scratchValidation: [VPGTransfer.Comparison.Point] = []
    public var comparison: VPGTransfer.Comparison?
    public var vqa: VQAAccuracy?
    public var scratchVQA: VQAAccuracy?

    public var jsonObject: [String: Any] {
        func rounded(_ x: Float) -> Double { (Double(x) * 1e4).rounded() / 1e4 }
        func phase(
            _ s: TrainingSettings, _ losses: [Float], _ validation: [VPGTransfer.Comparison.Point]
        ) -> [String: Any] {
            let tail = losses.suffix(min(20, losses.count))
            var o: [String: Any] = [
                "steps": s.steps, "learning_rate": Double(s.learningRate),
                "first_loss": losses.first.map { Double($0) as Any } ?? NSNull(),
                "final_loss": tail.isEmpty ? NSNull() : Double(tail.reduce(0, +) / Float(tail.count)),
                "losses": losses.map(rounded),
            ]
            if !validation.isEmpty { o["validation"] = validation.map { [$0.step, rounded($0.loss)] as [Any] } }
            return o
        }
        var o: [String: Any] = [
            "converter": [
                "shared_tokens": sharedTokens, "steps": converterSteps, "cosine_loss": Double(converterLoss),
            ],
            "warmup": phase(warmup, warmupLosses, warmupValidation),
            "finetune": phase(finetune, finetuneLosses, finetuneValidation),
        ]
        if let scratchLosses {
            var s = finetune
            s.steps = scratchLosses.count
            o["scratch"] = phase(s, scratchLosses, scratchValidation)
        }
        o["comparison"] = comparison?.jsonObject
        o["vqa"] = vqa?.jsonObject
        o["scratch_vqa"] = scratchVQA?.jsonObject
        return o
    }
}

/// `vpgtrans`: see `RecipeRunner.runVPGTrans`. The world only: its held-out loss and VQA are the world's.
public enum VPGTransTrainingRecipe: TrainingRecipe {
    public static let name: Recipe.Name = "vpgtrans"
    public static let defaults = TrainingSettings(steps: 300, batchSize: 32, learningRate: 2e-3, warmupSteps: 20)
    public static let sections: Set<String> = ["vpgtrans"]

    public static func validate(_ recipe: Recipe) throws {
        if recipe.vision != nil {
            throw RecipeError("\"vision\" is not read by vpgtrans: the vision tower is the one of \"model\"")
        }
        if recipe.lora != nil {
            throw RecipeError("\"lora\" is not read by vpgtrans: the new language model stays frozen")
        }
        if recipe.model == nil {
            throw RecipeError("vpgtrans needs \"model\" (the source: a LLaVA directory, e.g. llava-stage1's)")
        }
        if recipe.languageModel == nil {
            throw RecipeError(
                "vpgtrans needs \"language_model\" (the target: a LLaMA directory, e.g. language-model's)")
        }
        let v = recipe.vpgtrans ?? Recipe.VPGTrans()
        try Recipe.positive(v.converterSteps, "vpgtrans.converter_steps")
        try Recipe.positive(v.projectorWarmupSteps, "vpgtrans.projector_warmup_steps")
        if v.projectorWarmupSteps != nil && v.projectorWarmupEpochs != nil {
            throw RecipeError(
                "\"vpgtrans.projector_warmup_steps\" and \"vpgtrans.projector_warmup_epochs\" cannot both be set")
        }
        if let e = v.projectorWarmupEpochs, !(e > 0) {
            throw RecipeError("\"vpgtrans.projector_warmup_epochs\" must be positive (it is \(e))")
        }
        if v.validationEvery < 0 {
            throw RecipeError("\"vpgtrans.validation_every\" must be 0 (none) or positive (it is \(v.validationEvery))")
        }
        try Recipe.positive(v.validationScenes, "vpgtrans.validation_scenes")
        if !(v.converterLearningRate > 0) { throw RecipeError("\"vpgtrans.converter_learning_rate\" must be positive") }
        if !(v.projectorWarmupLRScale > 0) {
            throw RecipeError("\"vpgtrans.projector_warmup_lr_scale\" must be positive")
        }
    }

    public static func run(_ stage: RecipeStage) throws {
        try stage.runner.runVPGTrans(
            stage.recipe, train: stage.data(), test: stage.worldTestScenes(), processor: stage.processor,
            settings: stage.settings, output: stage.output)
    }
}

extension RecipeRunner {
    /// vpgtrans: the LLaVA at `model` (vision tower + MLP projector trained on its LLM) moved to the
    /// LLaMA at `language_model` as VPGTrans does — a word-embedding converter trained with a cosine
    /// loss and folded into the projector, the projector (`linear_2`) warmed up alone at
    /// `projector_warmup_lr_scale` × the learning rate, then the whole MLP fine-tuned with the new
    /// LLM frozen (the vision tower stays frozen throughout, as in LLaVA's stages). Writes a LLaVA
    /// directory for the new LLM; with `compare_scratch` also a projector trained there from scratch
    /// for as many steps (`<output>/scratch`) and the steps the transfer saved; with
    /// `world.test_scenes` > 0 VQA of both on the test split. The report goes to the log and to
    /// `<output>/vpgtrans.json`.
    @discardableResult
    func runVPGTrans(
        _ recipe: Recipe, train: TrainingData, test: [WorldSample], processor: ImageProcessor,
        settings: TrainingSettings,
        output: URL
    ) throws -> VPGTransReport {
        let v = recipe.vpgtrans ?? Recipe.VPGTrans()
        let what = "a LLaVA directory with an MLP projector (llava-stage1's or llava-stage2's)"
        let source = try input(recipe, "model", recipe.model, what) { dir -> LlavaForConditionalGeneration in
            let llava = try LlavaForConditionalGeneration.load(directory: dir)
            return llava
        }
        guard let sourceProjector = source.multi_modal_projector as? MLPProjector, sourceProjector.linear_2.bias != nil
        else {
            throw RecipeError(
                "\"model\": \(recipe.model!) should be \(what); its projector is not a two-layer MLP with biases")
        }
        let (target, lmDir) = try languageModel(recipe)
        guard target.config.hiddenSize >= sourceProjector.linear_1.outFeatures else {
            throw RecipeError(
                "\"language_model\": \(lmDir.path) is \(target.config.hiddenSize) wide, narrower than the source LLM "
                    + "(\(sourceProjector.linear_1.outFeatures)); LLaVA's MLP is as wide as its language model, so the target must be at least as wide"
            )
        }
        let sourceTokenizer = try Tokenizer(directory: URL(fileURLWithPath: recipe.model!))
        try copyTokenizer(from: lmDir, to: output)
        let tokenizer = try Tokenizer(directory: output)
        let imageToken = try imageTokenId(tokenizer, lmDir.path)

        // 1. The word-embedding converter, folded into the projector of a LLaVA for the new LLM.
        func examples(_ data: TrainingData) -> [TokenizedExample] {
            LlavaAlignment.examples(
                tokenizer, imageTokenId: imageToken, imageTokens: source.tokensPerImage, turns: data.turns)
        }
        let trainExamples = examples(train)
        let moved = try VPGTransfer.move(
            source, sourceTokenizer: sourceTokenizer, to: target, tokenizer: tokenizer, imageTokenId: imageToken,
            converterSteps: v.converterSteps, converterLearningRate: v.converterLearningRate,
            within: v.converterTokens == .data ? Set(trainExamples.flatMap(\.ids)) : nil)
        let llava = moved.llava
        log(
            String(
                format:
                    "vpgtrans: word-embedding converter %d → %d over %d shared tokens (%@), cosine loss %.4f after %d steps",
                source.config.text.hiddenSize, target.config.hiddenSize, moved.sharedTokens,
                v.converterTokens == .data ? "those the training data uses" : "all", moved.converterLoss,
                v.converterSteps))

        // 2–3. Warm-up of the projector, then VPG + projector, the new LLM frozen.
        var setting = VPGTransfer.Setting(
            languageModel: llava.language_model, imageTokenId: imageToken,
            features: try LlavaAlignment.visionFeatures(source, images: train.images, processor: processor),
            examples: trainExamples,
            padId: tokenizer.padTokenId ?? 0)
        setting.makeTrainer = { phase, model, s in
            try self.makeTrainer(phase.rawValue, model, s, output, checkpoints: "checkpoints/" + phase.checkpointFolder)
        }
        if v.validationEvery > 0 {
            let held = TrainingData.world(
                World().samples(.test, count: v.validationScenes, seed: recipe.world.seed &+ 1))
            setting.validation = (
                examples(held), try LlavaAlignment.visionFeatures(source, images: held.images, processor: processor),
                v.validationEvery
            )
        }
        func validation(_ trainer: Trainer) -> [VPGTransfer.Comparison.Point] {
            trainer.history.compactMap { r in
                r.validationLoss.map { VPGTransfer.Comparison.Point(step: r.step, loss: $0) }
            }
        }
        let warmupSteps = v.warmupSteps(
            examples: trainExamples.count, batchSize: settings.batchSize * settings.accumulation)
        let (_, warm, fine) = try setting.transfer(
            llava.multi_modal_projector as! MLPProjector, warmupSteps: warmupSteps,
            lrScale: v.projectorWarmupLRScale, finetune: settings)
        try HFExport.write(llava, processor: processor, to: output)
        var report = VPGTransReport(
            sharedTokens: moved.sharedTokens, converterSteps: v.converterSteps, converterLoss: moved.converterLoss,
            warmup: warm.settings, finetune: settings, warmupLosses: warm.history.map(\.loss),
            finetuneLosses: fine.history.map(\.loss))
        (report.warmupValidation, report.finetuneValidation) = (validation(warm), validation(fine))
        log(
            String(
                format:
                    "vpgtrans: warm-up %d steps at learning rate %.1e, loss %.3f → %.3f; fine-tuning %d steps, loss %.3f → %.3f",
                warm.settings.steps, warm.settings.learningRate, report.warmupLosses.first ?? .nan,
                report.warmupLosses.last ?? .nan,
                settings.steps, report.finetuneLosses.first ?? .nan, report.finetuneLosses.last ?? .nan))

        // The baseline: a new projector on the same frozen LLM for as many steps.
        let scratchDir = output.appendingPathComponent("scratch")
        if v.compareScratch {
            let scratch = try LlavaAlignment.assemble(
                llava.config, vision: source.vision_tower.vision_model.stateDict(), languageModel: target,
                imageTokenId: imageToken)
            var scratchSettings = settings
            scratchSettings.steps = warm.settings.steps + settings.steps
            // The frozen LLM in front of which it trains is the transfer's (the same weights).
            let (_, trainer) = try setting.train(
                scratch.multi_modal_projector as! MLPProjector, .scratch, scratchSettings)
            try HFExport.write(scratch, processor: processor, to: scratchDir)
            try copyTokenizer(from: lmDir, to: scratchDir)
            report.scratchLosses = trainer.history.map(\.loss)
            report.scratchValidation = validation(trainer)
            let shift = warm.settings.steps
            let comparison =
                v.validationEvery > 0
                ? VPGTransfer.Comparison(
                    transfer: report.warmupValidation
                        + report.finetuneValidation.map { .init(step: $0.step + shift, loss: $0.loss) },
                    scratch: report.scratchValidation, steps: scratchSettings.steps,
                    measure: "validation loss (\(setting.validation!.examples.count) held-out examples)")
                : VPGTransfer.Comparison(
                    transfer: report.warmupLosses + report.finetuneLosses, scratch: report.scratchLosses!)
            report.comparison = comparison
            log("vpgtrans: " + comparison.summary)
        }
        if !test.isEmpty {
            report.vqa = VQAAccuracy(try WorldEvaluation.answers(GenerationPipeline(directory: output), samples: test))
            log("vpgtrans: test VQA of the transferred model on \(test.count) scenes: " + report.vqa!.summary)
            if v.compareScratch {
                report.scratchVQA = VQAAccuracy(
                    try WorldEvaluation.answers(GenerationPipeline(directory: scratchDir), samples: test))
                log("vpgtrans: test VQA from scratch: " + report.scratchVQA!.summary)
            }
        }
        try writeJSON(report.jsonObject, to: output.appendingPathComponent("vpgtrans.json"))
        return report
    }
}

extension VPGTransfer {
    /// A source LLaVA moved to a new language model, before any training on it.
    public struct Moved {
        /// The source's vision tower and configuration, the new LLM, and the source's projector with
        /// the converter folded in (widened to the new LLM's width, see `widenedState`).
        public let llava: LlavaForConditionalGeneration
        public let converter: Linear
        public let sharedTokens: Int
        /// Mean 1 − cos of the converter over the shared tokens.
        public let converterLoss: Float
    }

    /// VPGTrans's first step on a LLaVA: a word-embedding converter from `source`'s language model
    /// to `target` over the tokens their tokenizers share (`<image>` aside; with `within`, only
    /// those target ids), folded into the
    /// source's MLP projector, in a LLaVA of the source's vision tower and `target`.
    public static func move(
        _ source: LlavaForConditionalGeneration, sourceTokenizer: Tokenizer, to target: LlamaForCausalLM,
        tokenizer: Tokenizer, imageTokenId: Int, converterSteps: Int = 300,
        converterLearningRate: Float = 1e-2, within: Set<Int>? = nil
    ) throws -> Moved {
        guard let projector = source.multi_modal_projector as? MLPProjector, projector.linear_2.bias != nil else {
            throw RecipeError("the source LLaVA's projector is not a two-layer MLP with biases")
        }
        let shared = sharedVocabulary(
            source: sourceTokenizer, target: tokenizer, excluding: ["<image>"], within: within)
        guard shared.source.count >= 2 else {
            throw RecipeError(
                "the two tokenizers share \(shared.source.count) tokens; the converter needs a shared vocabulary")
        }
        let (sourceRows, targetRows) = noGrad {
            (
                source.language_model.model.embed_tokens.weight.value.indexSelect(0, shared.source),
                target.model.embed_tokens.weight.value.indexSelect(0, shared.target)
            )
        }
        let converter = try trainEmbeddingConverter(
            source: sourceRows, target: targetRows, steps: converterSteps,
            learningRate: converterLearningRate)
        let state = try widenedState(transferred(projector, converter: converter), hiddenSize: target.config.hiddenSize)
        var config = source.config
        config.visionTowerDirectory = nil  // the tower's weights go with the new model
        let llava = try LlavaAlignment.assemble(
            config, vision: source.vision_tower.vision_model.stateDict(), languageModel: target,
            imageTokenId: imageTokenId, projector: state)
        return Moved(
            llava: llava, converter: converter, sharedTokens: shared.source.count,
            converterLoss: cosineLoss(converter, source: sourceRows, target: targetRows))
    }
}

extension VQAAccuracy {
    /// Accuracy overall and per question type, each with chance (the type's most common answer).
    public var jsonObject: [String: Any] {
        [
            "questions": overall.count, "vqa_accuracy": overall.accuracy, "vqa_type_prior": typePriorBaseline,
            "vqa_by_type": byType.mapValues {
                ["accuracy": $0.accuracy, "chance": $0.majorityBaseline, "count": $0.count]
            },
        ]
    }
}
