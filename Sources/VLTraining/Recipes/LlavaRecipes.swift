import Foundation
import VLModels
import VLNN
import VLTokenizers

/// `llava-stage1`: the MLP projector between a trained CLIP (`vision`) and a trained LLaMA
/// (`language_model`), both frozen, on captions — the world's, a captions file's (as caption
/// requests), or a LLaVA file's turns as written (LLaVA's own stage-1 data is such a file).
public enum LlavaStage1Recipe: TrainingRecipe {
    public static let name: Recipe.Name = "llava-stage1"
    public static let defaults = TrainingSettings(steps: 100, batchSize: 32, learningRate: 2e-3, warmupSteps: 10)
    public static let data: [DataKind] = [.captions, .llavaJSON]

    public static func run(_ stage: RecipeStage) throws {
        let runner = stage.runner, recipe = stage.recipe
        guard let vision = recipe.vision, let lmDir = recipe.languageModel else {
            throw RecipeError(
                "llava-stage1 needs \"vision\" (a CLIP directory) and \"language_model\" (a LLaMA directory)")
        }
        let train = try stage.data(), validation = try stage.validationData()
        let clip = try runner.load(CLIPModel.self, "vision", vision)
        let lm = try runner.load(LlamaForCausalLM.self, "language_model", lmDir)
        try runner.copyTokenizer(from: URL(fileURLWithPath: lmDir), to: stage.output)
        let tokenizer = try Tokenizer(directory: stage.output)
        let llava = try LlavaAlignment.assemble(
            clip: clip, languageModel: lm, imageTokenId: try runner.imageTokenId(tokenizer, lmDir),
            selection: RecipeRunner.worldFeatureSelection)
        try runner.trainLlava(
            llava, stage: .featureAlignment, on: train, tokenizer: tokenizer, settings: stage.settings,
            output: stage.output,
            processor: stage.processor, validation: validation.map { ($0, stage.validationEvery) })
    }
}

/// `llava-stage2`: the projector and the language model (or, with `lora`, LoRA adapters on it) of
/// stage 1's LLaVA (`model`) on instructions: every turn of the world's conversations or of a
/// LLaVA file's (a captions file's captions as caption requests).
public enum LlavaStage2Recipe: TrainingRecipe {
    public static let name: Recipe.Name = "llava-stage2"
    public static let defaults = TrainingSettings(steps: 350, batchSize: 32, learningRate: 1e-3, warmupSteps: 20)
    public static let data: [DataKind] = [.llavaJSON, .captions]

    public static func run(_ stage: RecipeStage) throws {
        let runner = stage.runner, recipe = stage.recipe
        guard let modelDir = recipe.model else {
            throw RecipeError("llava-stage2 needs \"model\" (a LLaVA directory from stage 1)")
        }
        let train = try stage.data(), validation = try stage.validationData()
        let llava = try runner.load(LlavaForConditionalGeneration.self, "model", modelDir)
        try runner.copyTokenizer(from: URL(fileURLWithPath: modelDir), to: stage.output)
        let tokenizer = try Tokenizer(directory: stage.output)
        var lora: LoRAConfig?
        if let l = recipe.lora {
            lora = LoRAConfig(rank: l.r, alpha: l.alpha, dropout: l.dropout, targets: .names(l.targetModules))
            try llava.language_model.attachLoRA(lora!)
        }
        try runner.trainLlava(
            llava, stage: .instructionTuning, on: train, tokenizer: tokenizer, settings: stage.settings,
            output: stage.output,
            processor: stage.processor, lora: lora, validation: validation.map { ($0, stage.validationEvery) })
    }
}
