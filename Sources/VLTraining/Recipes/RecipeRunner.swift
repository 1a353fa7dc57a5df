import Foundation
import VLFiles
import VLImaging
import VLIO
import VLModels
import VLNN
import VLTensor
import VLTokenizers

/// Runs recipes (on the built-in world or on dataset files); every stage writes a Hugging Face directory.
/// Which code runs a recipe is `RecipeRegistry`'s; this holds what every recipe shares: progress,
/// resuming, logging, and the stages the demo also calls.
public struct RecipeRunner {
    /// Progress of a stage: its name and settings, the step just done.
    public var onStep: (String, TrainingSettings, StepRecord) throws -> Void = { _, _, _ in }
    /// Continue from the newest checkpoint under `<output>/checkpoints` when there is one.
    public var resume = false
    public var log: (String) -> Void = { _ in }
    /// Every trainer a stage makes, with the stage's name, before it trains (the demo reads their
    /// loss curves and trainable parameters).
    public var onTrainer: (String, Trainer) -> Void = { _, _ in }
    /// Test scenes the recipes that evaluate (albef, mplug-owl-stage2) score on.
    public var evaluationScenes = 500

    public init() {}

    /// What LLaVA assemblies on the world read from the vision tower: the last layer with its
    /// class token (a small CLIP's summary of the scene lives there).
    public static let worldFeatureSelection = VisionFeatureSelection(layers: [-1], keepClassToken: true)

    /// Runs `recipe` with the code `RecipeRegistry` names for it, on its data (the world's scenes
    /// or its dataset file); every stage writes a Hugging Face directory at `recipe.output`.
    public func run(_ recipe: Recipe) throws {
        try recipe.validate()
        let kind = RecipeRegistry.recipe(named: recipe.recipe)!
        let settings = recipe.training.applied(to: kind.defaults)
        let output = URL(fileURLWithPath: recipe.output)
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        GlobalRandom.seed(settings.seed)
        try kind.run(
            RecipeStage(
                runner: self, recipe: recipe, settings: settings, output: output,
                processor: CLIPPretraining.worldProcessor(imageSize: World().imageSize)))
    }

    /// CLIP from scratch on `train`'s captions (on the world, with its shape twins as hard
    /// negatives); writes the directory with its tokenizer.
    public func trainCLIP(
        on train: TrainingData, processor: ImageProcessor, settings: TrainingSettings, output: URL,
        validation: (data: TrainingData, every: Int)? = nil
    ) throws -> (CLIPModel, CLIPTokenizer, Trainer) {
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let vocab = try WorldTokenizers.writeCLIPTokenizer(to: output, maxLength: 32)
        let tokenizer = try CLIPTokenizer(directory: output)
        let clip = try CLIPModel(CLIPPretraining.worldConfig(vocabSize: vocab, imageSize: processor.cropHeight))
        let trainer = try makeTrainer("clip", clip, settings, output)
        if let (data, every) = validation {
            trainer.validate(
                every: every,
                on: try CLIPPretraining.batches(
                    data, processor: processor, tokenizer: tokenizer,
                    textLength: clip.textLength, batchSize: settings.batchSize),
                CLIPPretraining.loss(clip))
        }
        try CLIPPretraining.train(
            clip, data: train.withShapeTwins(imageSize: processor.cropHeight, seed: settings.seed),
            processor: processor,
            tokenizer: tokenizer, trainer: trainer)
        try HFExport.write(clip, processor: processor, to: output)
        return (clip, tokenizer, trainer)
    }

    /// A small LLaMA on `train`'s text (captions, questions with their answers); writes the directory.
    public func trainLanguageModel(
        on train: TrainingData, settings: TrainingSettings, output: URL,
        hidden: Int = 128, layers: Int = 4
    ) throws -> (LlamaForCausalLM, Tokenizer, Trainer) {
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        try WorldTokenizers.writeLanguageModelTokenizer(to: output)
        let tokenizer = try Tokenizer(directory: output)
        let lm = try LlamaForCausalLM(
            LanguageModelPretraining.worldConfig(vocabSize: tokenizer.vocabSize, hidden: hidden, layers: layers))
        let text = LanguageModelPretraining.texts(train).map {
            TokenizedExample.promptResponse(tokenizer, prompt: "", response: $0)
        }
        let trainer = try makeTrainer("language model", lm, settings, output)
        try LanguageModelPretraining.train(lm, examples: text, padId: tokenizer.padTokenId ?? 0, trainer: trainer)
        try HFExport.write(lm, to: output)
        return (lm, tokenizer, trainer)
    }

    /// One LLaVA stage: stage 1 on `train`'s caption turns, stage 2 on all its turns (questions and
    /// captions), the frozen tower's features computed once. With `validation`, the held-out loss
    /// of that data's examples is logged too. With LoRA the adapters are also saved alone in PEFT's
    /// layout (`adapter/`), and merged into the directory's weights.
    @discardableResult
    public func trainLlava(
        _ llava: LlavaForConditionalGeneration, stage: LlavaAlignment.Stage, on train: TrainingData,
        tokenizer: Tokenizer,
        settings: TrainingSettings, output: URL, processor: ImageProcessor, lora: LoRAConfig? = nil,
        validation: (data: TrainingData, every: Int)? = nil
    ) throws -> Trainer {
        let padId = tokenizer.padTokenId ?? 0
        func batches(_ data: TrainingData) throws -> (Batches<ExampleBatch>, Tensor) {
            let examples = LlavaAlignment.examples(
                tokenizer, llava: llava, turns: stage == .featureAlignment ? data.captionTurns : data.turns)
            return (
                .examples(examples, padId: padId),
                try LlavaAlignment.visionFeatures(llava, images: data.images, processor: processor)
            )
        }
        let (training, features) = try batches(train)
        LlavaAlignment.prepare(llava, stage: stage)
        let trainer = try makeTrainer(
            stage == .featureAlignment ? "llava stage 1" : "llava stage 2", llava, settings, output)
        if let (data, every) = validation {
            let (held, heldFeatures) = try batches(data)
            trainer.validate(every: every, on: held, LlavaAlignment.loss(llava, features: heldFeatures))
        }
        try trainer.run(training, LlavaAlignment.loss(llava, features: features))
        if let lora { try saveAndMergeLoRA(llava.language_model, lora, output: output) }
        try HFExport.write(llava, processor: processor, to: output)
        return trainer
    }

    /// The adapters alone in PEFT's layout under `<output>/adapter`, then merged into the weights.
    func saveAndMergeLoRA(_ lm: LlamaForCausalLM, _ lora: LoRAConfig, output: URL) throws {
        try savePEFTAdapter(
            of: lm, config: PEFTAdapterConfig(lora: lora, taskType: "CAUSAL_LM"),
            to: output.appendingPathComponent("adapter"))
        try lm.mergeLoRA()
    }

    /// A stage's trainer reporting to `onStep`; with `settings.checkpointEvery` it writes checkpoints
    /// to `<output>/<checkpoints>` (and resumes from there when asked).
    func makeTrainer(
        _ name: String, _ model: Module, _ settings: TrainingSettings, _ output: URL,
        checkpoints folder: String = "checkpoints"
    ) throws -> Trainer {
        let trainer = Trainer(model: model, settings: settings)
        trainer.onStep = { try onStep(name, settings, $0) }
        onTrainer(name, trainer)
        if settings.checkpointEvery > 0 {
            let checkpoints = output.appendingPathComponent(folder)
            trainer.checkpointDirectory = checkpoints
            if resume, try trainer.resume(from: checkpoints) { log("\(name): resumed at step \(trainer.step)") }
        }
        return trainer
    }

    func copyTokenizer(from source: URL, to destination: URL) throws {
        let fm = FileManager.default
        guard source.standardizedFileURL != destination.standardizedFileURL else { return }
        for name in ["tokenizer.json", "tokenizer_config.json"] {
            let from = source.appendingPathComponent(name), to = destination.appendingPathComponent(name)
            guard fm.fileExists(atPath: from.path) else { throw RecipeError("\(source.path): no \(name)") }
            try writeAtomically(try Data(contentsOf: from), to: to)
        }
    }

    func imageTokenId(_ tokenizer: Tokenizer, _ directory: String) throws -> Int {
        guard let id = tokenizer.addedTokens.first(where: { $0.content == "<image>" })?.id else {
            throw RecipeError("\(directory): the tokenizer has no <image> token")
        }
        return id
    }
}
