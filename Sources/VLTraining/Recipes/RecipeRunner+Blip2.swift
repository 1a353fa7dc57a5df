import Foundation
import VLFiles
import VLImaging
import VLIO
import VLModels
import VLNN
import VLTensor
import VLTokenizers

/// The BLIP-2 and MiniGPT-4 recipes: blip2-vision (the frozen encoder, pre-trained as EVA-CLIP is),
/// blip2-stage1 (Q-Former representation learning), blip2-stage2 (generative learning into a frozen
/// LLaMA), minigpt4 (one projection into a frozen LLaMA). Each writes `eval.json`: its measure on
/// the world's test split beside chance.
extension RecipeRunner {
    func runBlip2(_ recipe: Recipe, train: WorldData, test: WorldData, processor: ImageProcessor, settings: TrainingSettings,
                  output: URL) throws {
        switch recipe.recipe {
        case .blip2Vision:
            try trainBlip2Vision(on: train, test: test, processor: processor, settings: settings, output: output)
        case .blip2Stage1:
            let vision = try input(recipe, "vision", recipe.vision, "a blip2-vision directory") { try Blip2VisionModel.load($0) }
            try trainBlip2Stage1(vision: vision, on: train, test: test, processor: processor, settings: settings, output: output)
        case .blip2Stage2:
            let stage1 = try input(recipe, "model", recipe.model, "a blip2-stage1 directory") { try Blip2ForImageTextRetrieval.load($0) }
            let (lm, lmDir) = try languageModel(recipe)
            try copyTokenizer(from: lmDir, to: output)
            let tokenizer = try Tokenizer(directory: output)
            let model = try Blip2Pretraining.assembleStage2(stage1: stage1, languageModel: lm, imageTokenId: try imageTokenId(tokenizer, lmDir.path))
            try trainBlip2Stage2(model, tokenizer: tokenizer, on: train, test: test, processor: processor, settings: settings, output: output)
        case .minigpt4:
            let (_, lmDir) = try languageModel(recipe)
            let model = try input(recipe, "model", recipe.model, "a blip2-stage2 directory") {
                try MiniGPT4.assemble(blip2: $0, llama: lmDir, projection: nil)
            }
            try trainMiniGPT4(model, blip2: URL(fileURLWithPath: recipe.model!), languageModel: lmDir, on: train, test: test,
                              settings: settings, output: output)
        default:
            preconditionFailure("\(recipe.recipe.rawValue) is not a BLIP-2 recipe")
        }
    }

    /// A recipe's input directory, loaded; a missing field or a directory that does not load is an
    /// error naming the field and the path.
    func input<T>(_ recipe: Recipe, _ field: String, _ path: String?, _ what: String, _ load: (URL) throws -> T) throws -> T {
        guard let path else { throw RecipeError("\(recipe.recipe.rawValue) needs \"\(field)\" (\(what))") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RecipeError("\"\(field)\": \(path) is not a directory (\(what))")
        }
        do { return try load(URL(fileURLWithPath: path)) } catch { throw RecipeError("\"\(field)\": \(path) should be \(what): \(error)") }
    }

    /// The recipe's `language_model`: a LLaMA and its directory.
    func languageModel(_ recipe: Recipe) throws -> (LlamaForCausalLM, URL) {
        try input(recipe, "language_model", recipe.languageModel, "a LLaMA directory") { dir in
            guard case .llama(let lm) = try loadModel(directory: dir, only: LlamaConfig.modelTypes) else { throw ConfigError("not a LLaMA") }
            return (lm, dir)
        }
    }

    /// blip2-vision: a `Blip2VisionModel` and a CLIP text tower trained with CLIP's loss; the vision
    /// tower alone is written (see `Blip2VisionContrastive`).
    @discardableResult
    public func trainBlip2Vision(on train: WorldData, test: WorldData, processor: ImageProcessor, settings: TrainingSettings,
                                 output: URL) throws -> (Blip2VisionContrastive, Trainer) {
        let textDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-blip2-text-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: textDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: textDirectory) }
        let vocab = try WorldTokenizers.writeCLIPTokenizer(to: textDirectory, maxLength: 32)
        let tokenizer = try CLIPTokenizer(directory: textDirectory)
        let model = try Blip2VisionContrastive(vision: Blip2VisionContrastive.worldVisionConfig(imageSize: processor.cropHeight),
                                               text: CLIPPretraining.worldConfig(vocabSize: vocab, imageSize: processor.cropHeight).text,
                                               projectionDim: 128)
        let (data, twins) = train.withShapeTwins(processor: processor, seed: settings.seed)
        let trainer = try makeTrainer("blip2 vision", model, settings, output)
        try CLIPPretraining.train(model, pixels: data.pixels, captions: data.captions, tokenizer: tokenizer, twins: twins, trainer: trainer)
        let (recall, count) = distinctCaptionRecall(test.captions) { rows, texts in
            let encoded = tokenizer(texts, padTo: model.textLength)
            let ids = Tensor(ints: encoded.ids.flatMap { $0 }, shape: [texts.count, model.textLength])
            let mask = Tensor(ints: encoded.attentionMask.flatMap { $0 }, shape: [texts.count, model.textLength])
            return noGrad { model.logitsPerText(pixels: test.pixels.indexSelect(0, rows), ids: ids, attentionMask: mask).mT.toArray() }
        }
        try report("blip2 vision", retrieval: recall, count: count, output: output)
        try HFExport.write(model.vision_model, processor: processor, to: output)
        return (model, trainer)
    }

    /// blip2-stage1: the Q-Former on `vision`'s frozen features with ITC + ITM + ITG; writes a
    /// `Blip2ForImageTextRetrieval` directory with the Q-Former's BERT tokenizer.
    @discardableResult
    public func trainBlip2Stage1(vision: Blip2VisionModel, on train: WorldData, test: WorldData, processor: ImageProcessor,
                                 settings: TrainingSettings, output: URL) throws -> (Blip2ForImageTextRetrieval, Trainer) {
        try WorldTokenizers.writeBertTokenizer(to: output, maxLength: 32)
        let tokenizer = try WordPieceTokenizer(directory: output)
        let model = try Blip2Pretraining.assembleStage1(vision: vision, vocabSize: tokenizer.vocab.count)
        let features = Blip2Pretraining.visionFeatures(vision, pixels: train.pixels)
        let trainer = try makeTrainer("blip2 stage 1", model, settings, output)
        try Blip2Pretraining.trainStage1(model, features: features, captions: train.captions, tokenizer: tokenizer,
                                         decoderTokenId: tokenizer.vocab["[DEC]"]!, trainer: trainer)
        let testFeatures = Blip2Pretraining.visionFeatures(vision, pixels: test.pixels)
        let (recall, count) = distinctCaptionRecall(test.captions) { rows, texts in
            Blip2Pretraining.similarities(model, features: testFeatures.indexSelect(0, rows), texts: texts, tokenizer: tokenizer)
        }
        try report("blip2 stage 1", retrieval: recall, count: count, output: output)
        try HFExport.write(model, processor: processor, to: output)
        return (model, trainer)
    }

    /// blip2-stage2: queries, Q-Former and the new projection on captions and questions, the LLM
    /// frozen; writes a `Blip2ForConditionalGeneration` directory, scored as `vlkit generate` loads it.
    @discardableResult
    public func trainBlip2Stage2(_ model: Blip2ForConditionalGeneration, tokenizer: Tokenizer, on train: WorldData, test: WorldData,
                                 processor: ImageProcessor, settings: TrainingSettings, output: URL) throws -> Trainer {
        let features = Blip2Pretraining.visionFeatures(model.vision_model, pixels: train.pixels)
        let examples = train.samples.indices.flatMap { i in
            [Blip2Pretraining.example(tokenizer, model: model, prompt: WorldEvaluation.captionRequest, answer: train.samples[i].caption, image: i)]
                + train.samples[i].questions.map { Blip2Pretraining.example(tokenizer, model: model, prompt: $0.question, answer: $0.answer, image: i) }
        }
        let trainer = try makeTrainer("blip2 stage 2", model, settings, output)
        try Blip2Pretraining.trainStage2(model, examples: examples, features: features, padId: tokenizer.padTokenId ?? 0, trainer: trainer)
        try HFExport.write(model, processor: processor, to: output)
        let pipeline = try GenerationPipeline(directory: output)
        try report("blip2 stage 2", vqa: VQAAccuracy(try WorldEvaluation.answers(pipeline, samples: test.samples)), output: output)
        return trainer
    }

    /// minigpt4: `llama_proj` alone of `model` (assembled from the `blip2` and `languageModel`
    /// directories) between its frozen vision tower and Q-Former and its frozen LLaMA; writes the
    /// three parts and the `config.json` naming them (`MiniGPT4Config`), which `loadModel` and
    /// `GenerationPipeline` open.
    @discardableResult
    public func trainMiniGPT4(_ model: MiniGPT4, blip2: URL, languageModel: URL, on train: WorldData, test: WorldData,
                              settings: TrainingSettings, output: URL) throws -> Trainer {
        let config = MiniGPT4Config()
        try copyFiles(from: blip2, to: output.appendingPathComponent(config.blip2))
        try copyFiles(from: languageModel, to: output.appendingPathComponent(config.languageModel))
        let tokenizer = try Tokenizer(directory: languageModel)
        let imageToken = try imageTokenId(tokenizer, languageModel.path), queries = model.query_tokens.shape[1]
        let examples = train.samples.indices.flatMap { i in
            ([(WorldEvaluation.captionRequest, train.samples[i].caption)] + train.samples[i].questions.map { ($0.question, $0.answer) }).map {
                MiniGPT4Alignment.example(tokenizer, queries: queries, imageTokenId: imageToken, question: $0.0, answer: $0.1, image: i)
            }
        }
        let trainer = try makeTrainer("minigpt4", model, settings, output)
        try MiniGPT4Alignment.train(model, examples: examples, queryOutputs: MiniGPT4Alignment.queryOutputs(model, pixels: train.pixels),
                                    imageTokenId: imageToken, padId: tokenizer.padTokenId ?? 0, trainer: trainer)
        try writeSafetensors(model.llama_proj.stateDict().mapKeys { "llama_proj." + $0 }, metadata: ["format": "pt"],
                             to: output.appendingPathComponent(config.projection))
        try writeJSON(config.jsonObject, to: output.appendingPathComponent("config.json"))
        let (loaded, loadedTokenizer, processor) = try MiniGPT4Alignment.load(output)
        let outcomes = try test.samples.flatMap { s in
            try s.questions.map { qa in
                VQAOutcome(questionType: qa.type.rawValue, prediction: try MiniGPT4Alignment.answer(
                    loaded, tokenizer: loadedTokenizer, question: qa.question, pixels: processor.batch([s.scene.render()])), truth: qa.answer)
            }
        }
        try report("minigpt4", vqa: VQAAccuracy(outcomes), output: output)
        return trainer
    }

    /// Recall over the images whose captions all differ (the first image of each caption), so each
    /// query has one right answer; `scores(rows, texts)` gives [image][text] row-major.
    private func distinctCaptionRecall(_ captions: [String], scores: ([Int], [String]) -> [Float]) -> (RetrievalRecall, Int) {
        var seen = Set<String>()
        let rows = captions.indices.filter { seen.insert(captions[$0]).inserted }
        let flat = scores(rows, rows.map { captions[$0] }), n = rows.count
        return (RetrievalRecall(similarity: (0..<n).map { Array(flat[($0 * n)..<(($0 + 1) * n)]) }, imageOfText: Array(0..<n)), n)
    }

    private func report(_ stage: String, retrieval r: RetrievalRecall, count: Int, output: URL) throws {
        let chance = 1 / Double(max(count, 1))
        log(String(format: "%@: test retrieval over %d images, R@1 image→text %.3f, text→image %.3f (chance %.3f)",
                   stage, count, r.imageToText[1]!, r.textToImage[1]!, chance))
        try writeJSON(["split": "test", "images": count, "image_to_text_r1": r.imageToText[1]!, "text_to_image_r1": r.textToImage[1]!,
                       "image_to_text_r5": r.imageToText[5]!, "chance_r1": chance],
                      to: output.appendingPathComponent("eval.json"))
    }

    private func report(_ stage: String, vqa: VQAAccuracy, output: URL) throws {
        log(String(format: "%@: test VQA accuracy %.3f over %d questions (answer-type prior %.3f)",
                   stage, vqa.overall.accuracy, vqa.overall.count, vqa.typePriorBaseline))
        try writeJSON(vqa.jsonObject.merging(["split": "test"]) { a, _ in a }, to: output.appendingPathComponent("eval.json"))
    }

    /// The regular files of a model directory (not its checkpoints), copied.
    private func copyFiles(from source: URL, to destination: URL) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: destination, withIntermediateDirectories: true)
        for name in try fm.contentsOfDirectory(atPath: source.path) {
            var isDirectory: ObjCBool = false
            let from = source.appendingPathComponent(name)
            guard fm.fileExists(atPath: from.path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            try writeAtomically(try Data(contentsOf: from), to: destination.appendingPathComponent(name))
        }
    }
}
