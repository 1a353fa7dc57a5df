import Foundation
import VLImaging
import VLIO
import VLModels
import VLNN
import VLTensor
import VLTokenizers

extension RecipeRunner {
    /// The `flamingo` stage: a Flamingo of the world CLIP at `vision` and the world LLaMA at
    /// `language_model` (both frozen) trains its resampler, gated blocks and media-token rows on
    /// interleaved sequences; writes the Flamingo directory, then scores it through that directory
    /// on the test split with each `evaluation.shots` count of in-context examples.
    @discardableResult
    public func trainFlamingo(_ recipe: Recipe, on train: WorldData, settings: TrainingSettings, output: URL,
                              processor: ImageProcessor) throws -> [FlamingoScores] {
        guard let vision = recipe.vision, let lmDir = recipe.languageModel else {
            throw RecipeError("flamingo needs \"vision\" (a CLIP directory) and \"language_model\" (a LLaMA directory)")
        }
        guard case .clip(let clip) = try loadModel(directory: URL(fileURLWithPath: vision), only: ["clip"]),
              case .llama(let pretrained) = try loadModel(directory: URL(fileURLWithPath: lmDir), only: ["llama"]) else { return [] }
        try FlamingoPretraining.writeTokenizer(from: URL(fileURLWithPath: lmDir), to: output)
        let tokenizer = try Tokenizer(directory: output)
        let media = tokenizer.tokenId(FlamingoPretraining.mediaToken)!, chunk = tokenizer.tokenId(FlamingoPretraining.endOfChunk)!
        let lm = try FlamingoPretraining.resized(pretrained, vocabSize: tokenizer.vocabSize)
        let flamingo = try FlamingoPretraining.assemble(clip: clip, languageModel: lm, mediaTokenId: media, endOfChunkTokenId: chunk)
        let trainee = FlamingoTrainee(flamingo.model, tokenIds: [media, chunk])
        let trainer = try makeTrainer("flamingo", trainee, settings, output)
        try FlamingoPretraining.train(trainee, samples: train.samples, features: visionFeatures(flamingo, pixels: train.pixels),
                                      tokenizer: tokenizer, mediaTokenId: media, trainer: trainer)
        trainee.mergeRows()
        try HFExport.write(flamingo, processor: processor, to: output)
        return try evaluateFlamingo(at: output, recipe: recipe, demos: train.samples)
    }

    /// The frozen tower's features of every image, [N, tokens, width], in chunks.
    private func visionFeatures(_ flamingo: FlamingoForConditionalGeneration, pixels: Tensor, chunk: Int = 256) -> Tensor {
        noGrad {
            let n = pixels.shape[0]
            return cat(stride(from: 0, to: n, by: chunk).map { start in
                flamingo.vision_encoder.features(pixels.narrow(0, start: start, length: min(chunk, n - start))).contiguous()
            }, dim: 0)
        }
    }

    /// Scores the saved directory; logs one line per shot count and writes `evaluation.json`.
    func evaluateFlamingo(at output: URL, recipe: Recipe, demos: [WorldSample]) throws -> [FlamingoScores] {
        let pipeline = try GenerationPipeline(directory: output)
        let test = World().samples(.test, count: recipe.evaluation.testScenes, seed: recipe.world.seed)
        let scores = try recipe.evaluation.shots.map { shots in
            try FlamingoEvaluation.scores(pipeline, test: test, demos: demos, shots: shots, seed: recipe.world.seed)
        }
        for s in scores {
            log(String(format: "flamingo %d-shot, %d test scenes: VQA %.1f%% of %d (majority answer per type %.1f%%), caption BLEU-4 %.3f, CIDEr-D %.3f",
                       s.shots, s.scenes, 100 * s.vqa.overall.accuracy, s.vqa.overall.count, 100 * s.vqa.typePriorBaseline, s.bleu4, s.cider))
        }
        let json: [[String: Any]] = scores.map { s in
            ["shots": s.shots, "test_scenes": s.scenes, "vqa_accuracy": s.vqa.overall.accuracy, "vqa_questions": s.vqa.overall.count,
             "vqa_by_type": s.vqa.byType.mapValues { $0.accuracy }, "bleu4": s.bleu4, "cider": s.cider]
        }
        try writeJSON(json, to: output.appendingPathComponent("evaluation.json"))
        return scores
    }
}

extension HFExport {
    /// A Flamingo directory: config.json (model_type "flamingo"), model.safetensors in
    /// OpenFlamingo's names, generation and preprocessor configs; tokenizer files come from the recipe.
    public static func write(_ model: FlamingoForConditionalGeneration, processor: ImageProcessor, to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try writeSafetensors(model.openFlamingoStateDict(), metadata: ["format": "pt"], to: directory.appendingPathComponent("model.safetensors"))
        try writeJSON(model.config.jsonObject, to: directory.appendingPathComponent("config.json"))
        try writeJSON(processor.jsonObject, to: directory.appendingPathComponent("preprocessor_config.json"))
        try writeGenerationConfig(model.config.text, to: directory)
    }
}
