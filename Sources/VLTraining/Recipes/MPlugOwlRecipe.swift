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
    public static func assemble(clip: CLIPModel, languageModel: LlamaForCausalLM, imageTokenId: Int, queries: Int = 8,
                                layers: Int = 2) throws -> MPlugOwlForConditionalGeneration {
        var c = MPlugOwlConfig()
        (c.vision, c.text, c.imageTokenId) = (clip.config.vision, languageModel.config, imageTokenId)
        let width = languageModel.config.hiddenSize
        (c.abstractor.hiddenSize, c.abstractor.numHiddenLayers, c.abstractor.numAttentionHeads, c.abstractor.numQueryTokens) =
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

    /// Caption requests for every sample, and in stage 2 their questions too.
    public static func examples(_ tokenizer: Tokenizer, owl: MPlugOwlForConditionalGeneration, samples: [WorldSample],
                                stage: Stage) -> [TokenizedExample] {
        func example(_ question: String, _ answer: String, _ image: Int) -> TokenizedExample {
            LlavaAlignment.example(tokenizer, question: question, answer: answer, image: image, imageTokenId: owl.config.imageTokenId,
                                   imageTokens: owl.tokensPerImage)
        }
        let captions = samples.indices.map { example(WorldEvaluation.captionRequest, samples[$0].caption, $0) }
        guard stage == .instructionTuning else { return captions }
        return samples.indices.flatMap { i in samples[i].questions.map { example($0.question, $0.answer, i) } } + captions
    }

    /// Trains on random batches of `examples` whose images index `pixels`. Stage 1 runs the vision
    /// encoder and abstractor in every step; in stage 2 they are frozen, so their outputs are
    /// computed once.
    public static func train(_ owl: MPlugOwlForConditionalGeneration, stage: Stage, examples: [TokenizedExample], pixels: Tensor,
                             padId: Int, trainer: Trainer) throws {
        let lm = owl.language_model, id = owl.config.imageTokenId
        switch stage {
        case .pretraining:
            try LlavaAlignment.train(lm, imageTokenId: id, examples: examples, padId: padId, trainer: trainer) {
                owl.imageFeatures(pixels.indexSelect(0, $0))
            }
        case .instructionTuning:
            let features = imageFeatures(owl, pixels: pixels)
            try LlavaAlignment.train(lm, imageTokenId: id, examples: examples, padId: padId, trainer: trainer) { features.indexSelect(0, $0) }
        }
    }

    /// The abstractor's outputs for every image, without gradients: [N, queries, text hidden].
    public static func imageFeatures(_ owl: MPlugOwlForConditionalGeneration, pixels: Tensor, chunk: Int = 256) -> Tensor {
        noGrad {
            let n = pixels.shape[0]
            return cat(stride(from: 0, to: n, by: chunk).map { owl.imageFeatures(pixels.narrow(0, start: $0, length: min(chunk, n - $0))).contiguous() },
                       dim: 0)
        }
    }
}

extension RecipeRunner {
    /// mplug-owl-stage1: `vision` (CLIP) + `language_model` (LLaMA) → vision + abstractor trained on captions.
    func runMPlugOwlStage1(_ recipe: Recipe, on train: WorldData, processor: ImageProcessor, settings: TrainingSettings, output: URL) throws {
        guard let vision = recipe.vision else { throw RecipeError("mplug-owl-stage1 needs \"vision\" (a CLIP directory)") }
        guard let lmDir = recipe.languageModel else { throw RecipeError("mplug-owl-stage1 needs \"language_model\" (a LLaMA directory)") }
        guard case .clip(let clip) = try load("vision", vision, only: ["clip"]),
              case .llama(let lm) = try load("language_model", lmDir, only: ["llama"]) else { return }
        try copyTokenizer(from: URL(fileURLWithPath: lmDir), to: output)
        let tokenizer = try Tokenizer(directory: output)
        let owl = try MPlugOwlRecipe.assemble(clip: clip, languageModel: lm, imageTokenId: try imageTokenId(tokenizer, lmDir))
        try trainMPlugOwl(owl, stage: .pretraining, on: train, tokenizer: tokenizer, settings: settings, output: output, processor: processor)
    }

    /// mplug-owl-stage2: `model` (stage 1's output) → LoRA on the language model (the recipe's
    /// `lora`, PEFT's defaults otherwise), then VQA on the test scenes from the written directory.
    func runMPlugOwlStage2(_ recipe: Recipe, on train: WorldData, processor: ImageProcessor, settings: TrainingSettings, output: URL) throws {
        guard let modelDir = recipe.model else { throw RecipeError("mplug-owl-stage2 needs \"model\" (an mPLUG-Owl directory from stage 1)") }
        guard case .mplugOwl(let owl) = try load("model", modelDir, only: ["mplug-owl"]) else { return }
        try copyTokenizer(from: URL(fileURLWithPath: modelDir), to: output)
        let tokenizer = try Tokenizer(directory: output)
        let l = recipe.lora ?? Recipe.LoRA()
        let lora = LoRAConfig(rank: l.r, alpha: l.alpha, dropout: l.dropout, targets: .names(l.targetModules))
        try owl.language_model.attachLoRA(lora)
        try trainMPlugOwl(owl, stage: .instructionTuning, on: train, tokenizer: tokenizer, settings: settings, output: output,
                          processor: processor, lora: lora)
        let test = World(imageSize: processor.cropHeight).samples(.test, count: evaluationScenes)
        log("mplug-owl: VQA on \(test.count) test scenes: " + VQAAccuracy(try WorldEvaluation.answers(GenerationPipeline(directory: output),
                                                                                                    samples: test)).summary)
    }

    /// One mPLUG-Owl stage on the world; writes the directory (with LoRA: the adapters alone in
    /// PEFT's layout under `adapter/`, merged into the weights).
    @discardableResult
    public func trainMPlugOwl(_ owl: MPlugOwlForConditionalGeneration, stage: MPlugOwlRecipe.Stage, on train: WorldData, tokenizer: Tokenizer,
                              settings: TrainingSettings, output: URL, processor: ImageProcessor, lora: LoRAConfig? = nil) throws -> Trainer {
        let examples = MPlugOwlRecipe.examples(tokenizer, owl: owl, samples: train.samples, stage: stage)
        MPlugOwlRecipe.prepare(owl, stage: stage)
        let trainer = try makeTrainer(stage == .pretraining ? "mplug-owl stage 1" : "mplug-owl stage 2", owl, settings, output)
        try MPlugOwlRecipe.train(owl, stage: stage, examples: examples, pixels: train.pixels, padId: tokenizer.padTokenId ?? 0, trainer: trainer)
        if let lora { try saveAndMergeLoRA(owl.language_model, lora, output: output) }
        try HFExport.write(owl, processor: processor, to: output)
        return trainer
    }

    /// A model directory named by a recipe field, of one of the `only` types; errors name the field.
    func load(_ field: String, _ path: String, only: [String]) throws -> LoadedModel {
        do {
            return try loadModel(directory: URL(fileURLWithPath: path), only: only)
        } catch {
            throw RecipeError("\"\(field)\": \(error)")
        }
    }
}

extension HFExport {
    public static func write(_ model: MPlugOwlForConditionalGeneration, processor: ImageProcessor, to directory: URL) throws {
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
        return ([row("all", overall, typePriorBaseline)] + byType.sorted { $0.key < $1.key }.map { row($0.key, $0.value, $0.value.majorityBaseline) })
            .joined(separator: "; ")
    }
}
