import Foundation
import VLFiles
import VLImaging
import VLIO
import VLModels
import VLNN
import VLTensor
import VLTokenizers

/// Runs recipes on the built-in world; every stage writes a Hugging Face directory.
public struct RecipeRunner {
    /// Progress of a stage: its name and settings, the step just done.
    public var onStep: (String, TrainingSettings, StepRecord) throws -> Void = { _, _, _ in }
    /// Continue from the newest checkpoint under `<output>/checkpoints` when there is one.
    public var resume = false
    public var log: (String) -> Void = { _ in }
    /// Test scenes the recipes that evaluate (albef, mplug-owl-stage2) score on.
    public var evaluationScenes = 500

    public init() {}

    public static let defaults: [Recipe.Kind: TrainingSettings] = [
        .clip: TrainingSettings(steps: 250, batchSize: 64, learningRate: 1e-3, warmupSteps: 20),
        .languageModel: TrainingSettings(steps: 150, batchSize: 32, learningRate: 2e-3, warmupSteps: 15),
        .llavaStage1: TrainingSettings(steps: 100, batchSize: 32, learningRate: 2e-3, warmupSteps: 10),
        .llavaStage2: TrainingSettings(steps: 350, batchSize: 32, learningRate: 1e-3, warmupSteps: 20),
        .flamingo: TrainingSettings(steps: 300, batchSize: 32, learningRate: 2e-3, warmupSteps: 20),
        .albef: TrainingSettings(steps: 200, batchSize: 32, learningRate: 1e-3, warmupSteps: 20),
        .mplugOwlStage1: TrainingSettings(steps: 150, batchSize: 32, learningRate: 1e-3, warmupSteps: 10),
        .mplugOwlStage2: TrainingSettings(steps: 350, batchSize: 32, learningRate: 2e-3, warmupSteps: 20),
        .blip2Vision: TrainingSettings(steps: 250, batchSize: 64, learningRate: 1e-3, warmupSteps: 20),
        .blip2Stage1: TrainingSettings(steps: 200, batchSize: 32, learningRate: 1e-3, warmupSteps: 20),
        .blip2Stage2: TrainingSettings(steps: 900, batchSize: 32, learningRate: 1e-3, warmupSteps: 20),
        .minigpt4: TrainingSettings(steps: 600, batchSize: 32, learningRate: 2e-3, warmupSteps: 20),
        .vpgtrans: TrainingSettings(steps: 300, batchSize: 32, learningRate: 2e-3, warmupSteps: 20),
    ]

    /// What LLaVA assemblies on the world read from the vision tower: the last layer with its
    /// class token (a small CLIP's summary of the scene lives there).
    public static let worldFeatureSelection = VisionFeatureSelection(layers: [-1], keepClassToken: true)

    public func run(_ recipe: Recipe) throws {
        try recipe.validate()
        let settings = recipe.training.applied(to: RecipeRunner.defaults[recipe.recipe]!)
        let output = URL(fileURLWithPath: recipe.output)
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        GlobalRandom.seed(settings.seed)
        let world = World()
        let processor = CLIPPretraining.worldProcessor(imageSize: world.imageSize)
        let train = WorldData(world.samples(.train, count: recipe.world.trainScenes, seed: recipe.world.seed), processor: processor)
        switch recipe.recipe {
        case .clip:
            _ = try trainCLIP(on: train, processor: processor, settings: settings, output: output)
        case .languageModel:
            _ = try trainLanguageModel(on: train, settings: settings, output: output, hidden: recipe.config?.hiddenSize ?? 128,
                                       layers: recipe.config?.numHiddenLayers ?? 4)
        case .llavaStage1:
            guard let vision = recipe.vision, let lmDir = recipe.languageModel else {
                throw RecipeError("llava-stage1 needs \"vision\" (a CLIP directory) and \"language_model\" (a LLaMA directory)")
            }
            guard case .clip(let clip) = try loadModel(directory: URL(fileURLWithPath: vision), only: ["clip"]),
                  case .llama(let lm) = try loadModel(directory: URL(fileURLWithPath: lmDir), only: ["llama"]) else { return }
            try copyTokenizer(from: URL(fileURLWithPath: lmDir), to: output)
            let tokenizer = try Tokenizer(directory: output)
            let imageToken = try imageTokenId(tokenizer, lmDir)
            let llava = try LlavaAlignment.assemble(clip: clip, languageModel: lm, imageTokenId: imageToken,
                                                    selection: RecipeRunner.worldFeatureSelection)
            try trainLlava(llava, stage: .featureAlignment, on: train, tokenizer: tokenizer, settings: settings, output: output, processor: processor)
        case .llavaStage2:
            guard let modelDir = recipe.model else { throw RecipeError("llava-stage2 needs \"model\" (a LLaVA directory from stage 1)") }
            guard case .llava(let llava) = try loadModel(directory: URL(fileURLWithPath: modelDir), only: ["llava"]) else { return }
            try copyTokenizer(from: URL(fileURLWithPath: modelDir), to: output)
            let tokenizer = try Tokenizer(directory: output)
            var lora: LoRAConfig?
            if let l = recipe.lora {
                lora = LoRAConfig(rank: l.r, alpha: l.alpha, dropout: l.dropout, targets: .names(l.targetModules))
                try llava.language_model.attachLoRA(lora!)
            }
            try trainLlava(llava, stage: .instructionTuning, on: train, tokenizer: tokenizer, settings: settings, output: output,
                           processor: processor, lora: lora)
        case .flamingo:
            try trainFlamingo(recipe, on: train, settings: settings, output: output, processor: processor)
        case .albef:
            _ = try trainALBEF(on: train, processor: processor, settings: settings, output: output)
        case .mplugOwlStage1:
            try runMPlugOwlStage1(recipe, on: train, processor: processor, settings: settings, output: output)
        case .mplugOwlStage2:
            try runMPlugOwlStage2(recipe, on: train, processor: processor, settings: settings, output: output)
        case .blip2Vision, .blip2Stage1, .blip2Stage2, .minigpt4:
            let test = WorldData(world.samples(.test, count: recipe.world.testScenes, seed: recipe.world.seed), processor: processor)
            try runBlip2(recipe, train: train, test: test, processor: processor, settings: settings, output: output)
        case .vpgtrans:
            try runVPGTrans(recipe, train: train, test: world.samples(.test, count: recipe.world.testScenes, seed: recipe.world.seed),
                            processor: processor, settings: settings, output: output)
        }
    }

    /// CLIP from scratch on the world's captions; writes the directory with its tokenizer.
    public func trainCLIP(on train: WorldData, processor: ImageProcessor, settings: TrainingSettings,
                          output: URL) throws -> (CLIPModel, CLIPTokenizer, Trainer) {
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let vocab = try WorldTokenizers.writeCLIPTokenizer(to: output, maxLength: 32)
        let tokenizer = try CLIPTokenizer(directory: output)
        let clip = try CLIPModel(CLIPPretraining.worldConfig(vocabSize: vocab, imageSize: processor.cropHeight))
        let (data, twins) = train.withShapeTwins(processor: processor, seed: settings.seed)
        let trainer = try makeTrainer("clip", clip, settings, output)
        try CLIPPretraining.train(clip, pixels: data.pixels, captions: data.captions, tokenizer: tokenizer, twins: twins, trainer: trainer)
        try HFExport.write(clip, processor: processor, to: output)
        return (clip, tokenizer, trainer)
    }

    /// A small LLaMA on the world's text (captions, questions with answers); writes the directory.
    public func trainLanguageModel(on train: WorldData, settings: TrainingSettings, output: URL,
                                   hidden: Int = 128, layers: Int = 4) throws -> (LlamaForCausalLM, Tokenizer, Trainer) {
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        try WorldTokenizers.writeLanguageModelTokenizer(to: output)
        let tokenizer = try Tokenizer(directory: output)
        let lm = try LlamaForCausalLM(LanguageModelPretraining.worldConfig(vocabSize: tokenizer.vocabSize, hidden: hidden, layers: layers))
        let text = train.samples.flatMap { s in
            [TokenizedExample.promptResponse(tokenizer, prompt: "", response: s.caption)]
                + s.questions.map { TokenizedExample.promptResponse(tokenizer, prompt: "", response: "\($0.question) \($0.answer)") }
        }
        let trainer = try makeTrainer("language model", lm, settings, output)
        try LanguageModelPretraining.train(lm, examples: text, padId: tokenizer.padTokenId ?? 0, trainer: trainer)
        try HFExport.write(lm, to: output)
        return (lm, tokenizer, trainer)
    }

    /// One LLaVA stage on the world: stage 1 on captions, stage 2 on questions and captions. With
    /// LoRA the adapters are also saved alone in PEFT's layout (`adapter/`), and merged into the
    /// directory's weights.
    @discardableResult
    public func trainLlava(_ llava: LlavaForConditionalGeneration, stage: LlavaAlignment.Stage, on train: WorldData, tokenizer: Tokenizer,
                           settings: TrainingSettings, output: URL, processor: ImageProcessor, lora: LoRAConfig? = nil) throws -> Trainer {
        let features = LlavaAlignment.visionFeatures(llava, pixels: train.pixels)
        let examples = LlavaAlignment.examples(tokenizer, llava: llava, samples: train.samples, stage: stage)
        LlavaAlignment.prepare(llava, stage: stage)
        let name = stage == .featureAlignment ? "llava stage 1" : "llava stage 2"
        let trainer = try makeTrainer(name, llava, settings, output)
        try LlavaAlignment.train(llava, examples: examples, features: features, padId: tokenizer.padTokenId ?? 0, trainer: trainer)
        if let lora { try saveAndMergeLoRA(llava.language_model, lora, output: output) }
        try HFExport.write(llava, processor: processor, to: output)
        return trainer
    }

    /// The adapters alone in PEFT's layout under `<output>/adapter`, then merged into the weights.
    func saveAndMergeLoRA(_ lm: LlamaForCausalLM, _ lora: LoRAConfig, output: URL) throws {
        try savePEFTAdapter(of: lm, config: PEFTAdapterConfig(lora: lora, taskType: "CAUSAL_LM"), to: output.appendingPathComponent("adapter"))
        try lm.mergeLoRA()
    }

    /// A stage's trainer reporting to `onStep`; with `settings.checkpointEvery` it writes checkpoints
    /// to `<output>/<checkpoints>` (and resumes from there when asked).
    func makeTrainer(_ name: String, _ model: Module, _ settings: TrainingSettings, _ output: URL,
                     checkpoints folder: String = "checkpoints") throws -> Trainer {
        let trainer = Trainer(model: model, settings: settings)
        trainer.onStep = { try onStep(name, settings, $0) }
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
