import Foundation
import VLImaging
import VLIO
import VLModels
import VLNN
import VLTensor
import VLTokenizers

/// mPLUG-Owl's two stages (Ye et al. 2023): stage 1 trains the vision encoder and the visual
/// abstractor on captions with the language model frozen; stage 2 freezes both and trains LoRA on
/// the language model with instructions (here the world's questions, with its captions).
public enum MPlugOwlRecipe {
    public enum Stage: Sendable { case pretraining, instructionTuning }

    /// An mPLUG-Owl from a trained CLIP's vision tower and a trained LLaMA, with a new abstractor
    /// of `layers` layers and `queries` queries in the language model's width.
    public static func assemble(
        clip: CLIPModel, languageModel: LlamaForCausalLM, imageTokenId: Int, queries: Int = 8,
        layers: Int = 2
    ) throws -> MPlugOwlForConditionalGeneration {
        var c = MPlugOwlConfig()
        (c.vision, c.text, c.imageTokenId) = (clip.config.vision, languageModel.config, imageTokenId)
        let width = languageModel.config.hiddenSize
        (
            c.abstractor.hiddenSize, c.abstractor.numHiddenLayers, c.abstractor.numAttentionHeads,
            c.abstractor.numQueryTokens
        ) =
            (width, layers, max(1, width / 32), queries)
        let owl = try MPlugOwlForConditionalGeneration(c)
        try owl.vision_model.load(stateDict: clip.vision_model.stateDict().mapValues { $0.clone() })
        try owl.language_model.load(stateDict: languageModel.stateDict().mapValues { $0.clone() })
        return owl
    }

    /// Which parameters a stage trains: the vision encoder and the abstractor with its queries
    /// (`query_tokens`, a top-level parameter in the released layout), or the LLM's LoRA adapters alone.
    public static func prepare(_ owl: MPlugOwlForConditionalGeneration, stage: Stage) {
        owl.freeze()
        switch stage {
        case .pretraining: owl.unfreeze(["vision_model", "abstractor", "query_tokens"])
        case .instructionTuning: owl.language_model.parameters().filter(\.isAdapter).forEach { $0.isTrainable = true }
        }
    }

    /// What a stage trains on: caption turns in stage 1, every turn in stage 2.
    public static func turns(_ data: TrainingData, stage: Stage) -> [ImageTurn] {
        stage == .pretraining ? data.captionTurns : data.turns
    }

    /// Every turn of `turns` as an example about its image, in LLaVA's prompt format.
    public static func examples(
        _ tokenizer: Tokenizer, owl: MPlugOwlForConditionalGeneration, turns: [ImageTurn]
    ) -> [TokenizedExample] {
        LlavaAlignment.examples(
            tokenizer, imageTokenId: owl.config.imageTokenId, imageTokens: owl.tokensPerImage, turns: turns)
    }

    /// Trains on batches of `examples` whose images index `pixels`. Stage 1 runs the vision
    /// encoder and abstractor in every step; in stage 2 they are frozen, so their outputs are
    /// computed once.
    public static func train(
        _ owl: MPlugOwlForConditionalGeneration, stage: Stage, examples: [TokenizedExample], pixels: Tensor,
        padId: Int, trainer: Trainer
    ) throws {
        let batches = Batches.examples(examples, padId: padId)
        switch stage {
        case .pretraining:
            try trainer.run(batches.adding { pixels.indexSelect(0, $0.images) }, pretrainingLoss(owl))
        case .instructionTuning:
            try trainer.run(batches, instructionLoss(owl, features: imageFeatures(owl, pixels: pixels)))
        }
    }

    /// Stage 1's loss of a batch with its images' pixels: through the vision encoder and abstractor, which train.
    public static func pretrainingLoss(
        _ owl: MPlugOwlForConditionalGeneration
    )
        -> ((ExampleBatch, Tensor), inout RandomGenerator) throws -> (loss: Tensor, samples: Int)
    {
        { b, _ in
            try LlavaAlignment.loss(owl.language_model, imageTokenId: owl.config.imageTokenId, b.0) { _ in
                owl.imageFeatures(b.1)
            }
        }
    }

    /// Stage 2's loss of a batch whose images index `features`, the frozen abstractor's outputs.
    public static func instructionLoss(
        _ owl: MPlugOwlForConditionalGeneration, features: Tensor
    )
        -> (ExampleBatch, inout RandomGenerator) throws -> (loss: Tensor, samples: Int)
    {
        { b, _ in
            try LlavaAlignment.loss(owl.language_model, imageTokenId: owl.config.imageTokenId, b) {
                features.indexSelect(0, $0)
            }
        }
    }

    /// The abstractor's outputs for every image, without gradients: [N, queries, text hidden].
    public static func imageFeatures(
        _ owl: MPlugOwlForConditionalGeneration, pixels: Tensor, chunk: Int = 256
    ) -> Tensor {
        noGrad {
            let n = pixels.shape[0]
            return cat(
                stride(from: 0, to: n, by: chunk).map {
                    owl.imageFeatures(pixels.narrow(0, start: $0, length: min(chunk, n - $0))).contiguous()
                },
                dim: 0)
        }
    }
}

/// `mplug-owl-stage1`: the vision encoder and a new visual abstractor between a trained CLIP
/// (`vision`) and a frozen LLaMA (`language_model`), on captions (as `llava-stage1` reads them).
public enum MPlugOwlStage1Recipe: TrainingRecipe {
    public static let name: Recipe.Name = "mplug-owl-stage1"
    public static let defaults = TrainingSettings(steps: 150, batchSize: 32, learningRate: 1e-3, warmupSteps: 10)
    public static let data: [DataKind] = [.captions, .llavaJSON]

    public static func run(_ stage: RecipeStage) throws {
        let runner = stage.runner, recipe = stage.recipe
        guard let vision = recipe.vision else {
            throw RecipeError("mplug-owl-stage1 needs \"vision\" (a CLIP directory)")
        }
        guard let lmDir = recipe.languageModel else {
            throw RecipeError("mplug-owl-stage1 needs \"language_model\" (a LLaMA directory)")
        }
        let train = try stage.data(), validation = try stage.validationData()
        let clip = try runner.load(CLIPModel.self, "vision", vision)
        let lm = try runner.load(LlamaForCausalLM.self, "language_model", lmDir)
        try runner.copyTokenizer(from: URL(fileURLWithPath: lmDir), to: stage.output)
        let tokenizer = try Tokenizer(directory: stage.output)
        let owl = try MPlugOwlRecipe.assemble(
            clip: clip, languageModel: lm, imageTokenId: try runner.imageTokenId(tokenizer, lmDir))
        try runner.trainMPlugOwl(
            owl, stage: .pretraining, on: train, tokenizer: tokenizer, settings: stage.settings, output: stage.output,
            processor: stage.processor, validation: validation.map { ($0, stage.validationEvery) })
    }
}

/// `mplug-owl-stage2`: LoRA on the language model of stage 1's mPLUG-Owl (`model`; the recipe's
/// `lora`, PEFT's defaults otherwise), vision and abstractor frozen, on instructions (as
/// `llava-stage2` reads them); then, on the world, VQA on its test scenes from the written directory.
public enum MPlugOwlStage2Recipe: TrainingRecipe {
    public static let name: Recipe.Name = "mplug-owl-stage2"
    public static let defaults = TrainingSettings(steps: 350, batchSize: 32, learningRate: 2e-3, warmupSteps: 20)
    public static let data: [DataKind] = [.llavaJSON, .captions]

    public static func run(_ stage: RecipeStage) throws {
        let runner = stage.runner, recipe = stage.recipe, output = stage.output
        guard let modelDir = recipe.model else {
            throw RecipeError("mplug-owl-stage2 needs \"model\" (an mPLUG-Owl directory from stage 1)")
        }
        let train = try stage.data(), validation = try stage.validationData()
        let owl = try runner.load(MPlugOwlForConditionalGeneration.self, "model", modelDir)
        try runner.copyTokenizer(from: URL(fileURLWithPath: modelDir), to: output)
        let tokenizer = try Tokenizer(directory: output)
        let l = recipe.lora ?? Recipe.LoRA()
        let lora = LoRAConfig(rank: l.r, alpha: l.alpha, dropout: l.dropout, targets: .names(l.targetModules))
        try owl.language_model.attachLoRA(lora)
        try runner.trainMPlugOwl(
            owl, stage: .instructionTuning, on: train, tokenizer: tokenizer, settings: stage.settings, output: output,
            processor: stage.processor, lora: lora, validation: validation.map { ($0, stage.validationEvery) })
        let test = stage.worldTestScenes(runner.evaluationScenes)
        guard !test.isEmpty else { return }
        runner.log(
            "mplug-owl: VQA on \(test.count) test scenes: "
                + VQAAccuracy(
                    try WorldEvaluation.answers(
                        GenerationPipeline(directory: output),
                        samples: test)
                ).summary)
    }
}

extension RecipeRunner {
    /// One mPLUG-Owl stage on `train` (see `MPlugOwlRecipe.turns`); writes the directory (with
    /// LoRA: the adapters alone in PEFT's layout under `adapter/`, merged into the weights).
    @discardableResult
    public func trainMPlugOwl(
        _ owl: MPlugOwlForConditionalGeneration, stage: MPlugOwlRecipe.Stage, on train: TrainingData,
        tokenizer: Tokenizer,
        settings: TrainingSettings, output: URL, processor: ImageProcessor, lora: LoRAConfig? = nil,
        validation: (data: TrainingData, every: Int)? = nil
    ) throws -> Trainer {
        MPlugOwlRecipe.prepare(owl, stage: stage)
        let trainer = try makeTrainer(
            stage == .pretraining ? "mplug-owl stage 1" : "mplug-owl stage 2", owl, settings, output)
        let padId = tokenizer.padTokenId ?? 0
        func examples(_ data: TrainingData) -> Batches<ExampleBatch> {
            .examples(
                MPlugOwlRecipe.examples(tokenizer, owl: owl, turns: MPlugOwlRecipe.turns(data, stage: stage)),
                padId: padId)
        }
        switch stage {
        case .pretraining:
            func batches(_ data: TrainingData) throws -> Batches<(ExampleBatch, Tensor)> {
                let pixels = try data.images.pixelSource(processor: processor)
                return examples(data).adding { try pixels($0.images) }
            }
            if let (data, every) = validation {
                trainer.validate(every: every, on: try batches(data), MPlugOwlRecipe.pretrainingLoss(owl))
            }
            try trainer.run(try batches(train), MPlugOwlRecipe.pretrainingLoss(owl))
        case .instructionTuning:
            func features(_ data: TrainingData) throws -> Tensor {
                try data.images.encoded(processor: processor) { owl.imageFeatures($0) }
            }
            if let (data, every) = validation {
                trainer.validate(
                    every: every, on: examples(data), MPlugOwlRecipe.instructionLoss(owl, features: try features(data)))
            }
            try trainer.run(examples(train), MPlugOwlRecipe.instructionLoss(owl, features: try features(train)))
        }
        if let lora { try saveAndMergeLoRA(owl.language_model, lora, output: output) }
        try HFExport.write(owl, processor: processor, to: output)
        return trainer
    }

    /// A model directory named by a recipe field, of the model type `M`; errors name the field.
    func load<M: LoadableModel>(_ type: M.Type, _ field: String, _ path: String) throws -> M {
        do {
            return try M.load(directory: URL(fileURLWithPath: path))
        } catch {
            throw RecipeError("\"\(field)\": \(error)")
        }
    }
}

extension HFExport {
    public static func write(
        _ model: MPlugOwlForConditionalGeneration, processor: ImageProcessor, to directory: URL
    ) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try writeWeights(model, to: directory)
        try writeJSON(model.config.jsonObject, to: directory.appendingPathComponent("config.json"))
        try writeJSON(processor.jsonObject, to: directory.appendingPathComponent("preprocessor_config.json"))
        try writeGenerationConfig(model.config.text, to: directory)
    }
}

extension VQAAccuracy {
    /// "all 41.0% (chance 30.0%); color 50.0% (chance 20.0%); …" — chance: the type's most common answer.
    public var summary: String {
        func row(_ name: String, _ a: AccuracyWithChance, _ chance: Double) -> String {
            String(format: "%@ %.1f%% (chance %.1f%%, %d)", name, 100 * a.accuracy, 100 * chance, a.count)
        }
        return
            ([row("all", overall, typePriorBaseline)]
            + byType.sorted { $0.key < $1.key }.map { row($0.key, $0.value, $0.value.majorityBaseline) })
            .joined(separator: "; ")
    }
}
