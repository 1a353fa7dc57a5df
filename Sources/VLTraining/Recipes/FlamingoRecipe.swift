import Foundation
import VLImaging
import VLIO
import VLModels
import VLNN
import VLTensor
import VLTokenizers

/// `flamingo`: a Flamingo of the world CLIP at `vision` and the world LLaMA at `language_model`
/// (both frozen) trains its resampler, gated blocks and media-token rows on interleaved documents
/// (the world's or an interleaved file's); writes the Flamingo directory, then, on the world,
/// scores it through that directory on the test split with each `evaluation.shots` count of
/// in-context examples.
public enum FlamingoTrainingRecipe: TrainingRecipe {
    public static let name: Recipe.Name = "flamingo"
    public static let defaults = TrainingSettings(steps: 300, batchSize: 32, learningRate: 2e-3, warmupSteps: 20)
    public static let data: [DataKind] = [.interleaved]

    public static func run(_ stage: RecipeStage) throws {
        try stage.runner.trainFlamingo(stage)
    }
}

extension RecipeRunner {
    @discardableResult
    func trainFlamingo(_ stage: RecipeStage) throws -> [FlamingoScores] {
        let recipe = stage.recipe, output = stage.output
        guard let vision = recipe.vision, let lmDir = recipe.languageModel else {
            throw RecipeError("flamingo needs \"vision\" (a CLIP directory) and \"language_model\" (a LLaMA directory)")
        }
        let train = try stage.data(), validation = try stage.validationData()
        let clip = try load(CLIPModel.self, "vision", vision)
        let pretrained = try load(LlamaForCausalLM.self, "language_model", lmDir)
        try FlamingoPretraining.writeTokenizer(from: URL(fileURLWithPath: lmDir), to: output)
        let tokenizer = try Tokenizer(directory: output)
        let media = tokenizer.tokenId(FlamingoPretraining.mediaToken)!,
            chunk = tokenizer.tokenId(FlamingoPretraining.endOfChunk)!
        let lm = try FlamingoPretraining.resized(pretrained, vocabSize: tokenizer.vocabSize)
        let flamingo = try FlamingoPretraining.assemble(
            clip: clip, languageModel: lm, mediaTokenId: media, endOfChunkTokenId: chunk)
        let trainee = FlamingoTrainee(flamingo.model, tokenIds: [media, chunk])
        let trainer = try makeTrainer("flamingo", trainee, stage.settings, output)
        func features(_ data: TrainingData) throws -> Tensor {
            try data.images.encoded(processor: stage.processor) { flamingo.vision_encoder.features($0) }
        }
        if let validation {
            trainer.validate(
                every: stage.validationEvery,
                on: FlamingoPretraining.batches(validation.documents, tokenizer: tokenizer, mediaTokenId: media),
                FlamingoPretraining.loss(trainee, features: try features(validation), mediaTokenId: media))
        }
        try FlamingoPretraining.train(
            trainee, documents: train.documents, features: features(train), tokenizer: tokenizer, mediaTokenId: media,
            trainer: trainer)
        trainee.mergeRows()
        try HFExport.write(flamingo, processor: stage.processor, to: output)
        let test = stage.worldTestScenes(recipe.evaluation.testScenes)
        return test.isEmpty ? [] : try evaluateFlamingo(at: output, recipe: recipe, test: test, demos: train.scenes)
    }

    /// Scores the saved directory; logs one line per shot count and writes `evaluation.json`.
    func evaluateFlamingo(
        at output: URL, recipe: Recipe, test: [WorldSample], demos: [WorldSample]
    ) throws -> [FlamingoScores] {
        let pipeline = try GenerationPipeline(directory: output)
        let scores = try recipe.evaluation.shots.map { shots in
            try FlamingoEvaluation.scores(pipeline, test: test, demos: demos, shots: shots, seed: recipe.world.seed)
        }
        for s in scores {
            log(
                String(
                    format:
                        "flamingo %d-shot, %d test scenes: VQA %.1f%% of %d (majority answer per type %.1f%%), caption BLEU-4 %.3f, CIDEr-D %.3f",
                    s.shots, s.scenes, 100 * s.vqa.overall.accuracy, s.vqa.overall.count, 100 * s.vqa.typePriorBaseline,
                    s.bleu4, s.cider))
        }
        let json: [[String: Any]] = scores.map { s in
            [
                "shots": s.shots, "test_scenes": s.scenes, "vqa_accuracy": s.vqa.overall.accuracy,
                "vqa_questions": s.vqa.overall.count,
                "vqa_by_type": s.vqa.byType.mapValues { $0.accuracy }, "bleu4": s.bleu4, "cider": s.cider,
            ]
        }
        try writeJSON(json, to: output.appendingPathComponent("evaluation.json"))
        return scores
    }
}

extension HFExport {
    /// A Flamingo directory: config.json (model_type "flamingo"), model.safetensors in
    /// OpenFlamingo's names, generation and preprocessor configs; tokenizer files come from the recipe.
    public static func write(
        _ model: FlamingoForConditionalGeneration, processor: ImageProcessor, to directory: URL
    ) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try writeSafetensors(
            model.openFlamingoStateDict(), metadata: ["format": "pt"],
            to: directory.appendingPathComponent("model.safetensors"))
        try writeJSON(model.config.jsonObject, to: directory.appendingPathComponent("config.json"))
        try writeJSON(processor.jsonObject, to: directory.appendingPathComponent("preprocessor_config.json"))
        try writeGenerationConfig(model.config.text, to: directory)
    }
}
