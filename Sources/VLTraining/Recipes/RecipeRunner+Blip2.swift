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
/// `blip2-vision`: a `Blip2VisionModel` and a CLIP text tower trained with CLIP's loss on
/// image–caption pairs (the world's, with shape twins, or a captions file's); the vision tower alone is written.
public enum Blip2VisionRecipe: TrainingRecipe {
    public static let name: Recipe.Name = "blip2-vision"
    public static let defaults = TrainingSettings(steps: 250, batchSize: 64, learningRate: 1e-3, warmupSteps: 20)
    public static let data: [DataKind] = [.captions]

    public static func run(_ stage: RecipeStage) throws {
        try stage.runner.trainBlip2Vision(
            on: stage.data(), test: stage.worldTestData(), processor: stage.processor, settings: stage.settings,
            output: stage.output, validation: try stage.validationData().map { ($0, stage.validationEvery) })
    }
}

/// `blip2-stage1`: the Q-Former on the frozen features of `vision` (a blip2-vision directory)
/// with ITC + ITM + ITG on image–caption pairs.
public enum Blip2Stage1Recipe: TrainingRecipe {
    public static let name: Recipe.Name = "blip2-stage1"
    public static let defaults = TrainingSettings(steps: 200, batchSize: 32, learningRate: 1e-3, warmupSteps: 20)
    public static let data: [DataKind] = [.captions]

    public static func run(_ stage: RecipeStage) throws {
        let train = try stage.data(), validation = try stage.validationData()
        let vision = try stage.runner.input(stage.recipe, "vision", stage.recipe.vision, "a blip2-vision directory") {
            try Blip2VisionModel.load($0)
        }
        try stage.runner.trainBlip2Stage1(
            vision: vision, on: train, test: stage.worldTestData(), processor: stage.processor,
            settings: stage.settings, output: stage.output, validation: validation.map { ($0, stage.validationEvery) })
    }
}

/// `blip2-stage2`: queries, Q-Former and a new projection of stage 1's model (`model`) into a
/// frozen LLaMA (`language_model`), with the LM loss on every turn of the data (the world's
/// captions and questions, a LLaVA file's turns, a captions file's captions).
public enum Blip2Stage2Recipe: TrainingRecipe {
    public static let name: Recipe.Name = "blip2-stage2"
    public static let defaults = TrainingSettings(steps: 900, batchSize: 32, learningRate: 1e-3, warmupSteps: 20)
    public static let data: [DataKind] = [.llavaJSON, .captions]

    public static func run(_ stage: RecipeStage) throws {
        let runner = stage.runner, recipe = stage.recipe
        let train = try stage.data(), validation = try stage.validationData()
        let stage1 = try runner.input(recipe, "model", recipe.model, "a blip2-stage1 directory") {
            try Blip2ForImageTextRetrieval.load($0)
        }
        let (lm, lmDir) = try runner.languageModel(recipe)
        try runner.copyTokenizer(from: lmDir, to: stage.output)
        let tokenizer = try Tokenizer(directory: stage.output)
        let model = try Blip2Pretraining.assembleStage2(
            stage1: stage1, languageModel: lm, imageTokenId: try runner.imageTokenId(tokenizer, lmDir.path))
        try runner.trainBlip2Stage2(
            model, tokenizer: tokenizer, on: train, test: stage.worldTestData(), processor: stage.processor,
            settings: stage.settings, output: stage.output, validation: validation.map { ($0, stage.validationEvery) })
    }
}

/// `minigpt4`: `llama_proj` alone between the frozen vision tower and Q-Former of a blip2-stage2
/// directory (`model`) and a frozen LLaMA (`language_model`), on every turn of the data.
public enum MiniGPT4Recipe: TrainingRecipe {
    public static let name: Recipe.Name = "minigpt4"
    public static let defaults = TrainingSettings(steps: 600, batchSize: 32, learningRate: 2e-3, warmupSteps: 20)
    public static let data: [DataKind] = [.llavaJSON, .captions]

    public static func run(_ stage: RecipeStage) throws {
        let runner = stage.runner, recipe = stage.recipe
        let train = try stage.data(), validation = try stage.validationData()
        let (_, lmDir) = try runner.languageModel(recipe)
        let model = try runner.input(recipe, "model", recipe.model, "a blip2-stage2 directory") {
            try MiniGPT4.assemble(blip2: $0, llama: lmDir, projection: nil)
        }
        try runner.trainMiniGPT4(
            model, blip2: URL(fileURLWithPath: recipe.model!), languageModel: lmDir, on: train,
            test: stage.worldTestData(), processor: stage.processor, settings: stage.settings, output: stage.output,
            validation: validation.map { ($0, stage.validationEvery) })
    }
}

extension RecipeStage {
    /// `worldTestScenes` rendered, or nil off the world.
    func worldTestData() -> WorldData? {
        let scenes = worldTestScenes()
        return scenes.isEmpty ? nil : WorldData(scenes, processor: processor)
    }
}

extension RecipeRunner {
    /// A recipe's input directory, loaded; a missing field or a directory that does not load is an
    /// error naming the field and the path.
    func input<T>(
        _ recipe: Recipe, _ field: String, _ path: String?, _ what: String, _ load: (URL) throws -> T
    ) throws -> T {
        guard let path else { throw RecipeError("\(recipe.recipe.rawValue) needs \"\(field)\" (\(what))") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RecipeError("\"\(field)\": \(path) is not a directory (\(what))")
        }
        do { return try load(URL(fileURLWithPath: path)) } catch {
            throw RecipeError("\"\(field)\": \(path) should be \(what): \(error)")
        }
    }

    /// The recipe's `language_model`: a LLaMA and its directory.
    func languageModel(_ recipe: Recipe) throws -> (LlamaForCausalLM, URL) {
        try input(recipe, "language_model", recipe.languageModel, "a LLaMA directory") { dir in
            let lm = try LlamaForCausalLM.load(directory: dir)
            return (lm, dir)
        }
    }

    /// blip2-vision: a `Blip2VisionModel` and a CLIP text tower trained with CLIP's loss; the vision
    /// tower alone is written (see `Blip2VisionContrastive`), with `eval.json` when there is a `test` split.
    @discardableResult
    public func trainBlip2Vision(
        on train: TrainingData, test: WorldData?, processor: ImageProcessor, settings: TrainingSettings,
        output: URL, validation: (data: TrainingData, every: Int)? = nil
    ) throws -> (Blip2VisionContrastive, Trainer) {
        let textDirectory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vlkit-blip2-text-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: textDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: textDirectory) }
        let vocab = try WorldTokenizers.writeCLIPTokenizer(to: textDirectory, maxLength: 32)
        let tokenizer = try CLIPTokenizer(directory: textDirectory)
        let model = try Blip2VisionContrastive(
            vision: Blip2VisionContrastive.worldVisionConfig(imageSize: processor.cropHeight),
            text: CLIPPretraining.worldConfig(vocabSize: vocab, imageSize: processor.cropHeight).text,
            projectionDim: 128)
        let trainer = try makeTrainer("blip2 vision", model, settings, output)
        if let (data, every) = validation {
            trainer.validate(
                every: every,
                on: try CLIPPretraining.batches(
                    data, processor: processor, tokenizer: tokenizer, textLength: model.textLength,
                    batchSize: settings.batchSize), CLIPPretraining.loss(model))
        }
        try CLIPPretraining.train(
            model, data: train.withShapeTwins(imageSize: processor.cropHeight, seed: settings.seed),
            processor: processor,
            tokenizer: tokenizer, trainer: trainer)
        if let test {
            let (recall, count) = distinctCaptionRecall(test.captions) { rows, texts in
                let encoded = tokenizer(texts, padTo: model.textLength)
                let ids = Tensor(ints: encoded.ids.flatMap { $0 }, shape: [texts.count, model.textLength])
                let mask = Tensor(ints: encoded.attentionMask.flatMap { $0 }, shape: [texts.count, model.textLength])
                return noGrad {
                    model.logitsPerText(pixels: test.pixels.indexSelect(0, rows), ids: ids, attentionMask: mask).mT
                        .toArray()
                }
            }
            try report("blip2 vision", retrieval: recall, count: count, output: output)
        }
        try HFExport.write(model.vision_model, processor: processor, to: output)
        return (model, trainer)
    }

    /// blip2-stage1: the Q-Former on `vision`'s frozen features with ITC + ITM + ITG; writes a
    /// `Blip2ForImageTextRetrieval` directory with the Q-Former's BERT tokenizer.
    @discardableResult
    public func trainBlip2Stage1(
        vision: Blip2VisionModel, on train: TrainingData, test: WorldData?, processor: ImageProcessor,
        settings: TrainingSettings, output: URL,
        validation: (data: TrainingData, every: Int)? = nil
    ) throws -> (Blip2ForImageTextRetrieval, Trainer) {
        try WorldTokenizers.writeBertTokenizer(to: output, maxLength: 32)
        let tokenizer = try WordPieceTokenizer(directory: output)
        let model = try Blip2Pretraining.assembleStage1(vision: vision, vocabSize: tokenizer.vocab.count)
        let decoder = tokenizer.vocab["[DEC]"]!
        func features(_ data: TrainingData) throws -> Tensor {
            try data.images.encoded(processor: processor) { vision.features($0) }
        }
        let trainer = try makeTrainer("blip2 stage 1", model, settings, output)
        if let (data, every) = validation {
            trainer.validate(
                every: every,
                on: Blip2Pretraining.stage1Batches(data.captions, tokenizer: tokenizer, decoderTokenId: decoder),
                Blip2Pretraining.stage1Loss(model, features: try features(data)))
        }
        try Blip2Pretraining.trainStage1(
            model, features: features(train), captions: train.captions, tokenizer: tokenizer,
            decoderTokenId: decoder, trainer: trainer)
        if let test {
            let testFeatures = Blip2Pretraining.visionFeatures(vision, pixels: test.pixels)
            let (recall, count) = distinctCaptionRecall(test.captions) { rows, texts in
                Blip2Pretraining.similarities(
                    model, features: testFeatures.indexSelect(0, rows), texts: texts, tokenizer: tokenizer)
            }
            try report("blip2 stage 1", retrieval: recall, count: count, output: output)
        }
        try HFExport.write(model, processor: processor, to: output)
        return (model, trainer)
    }

    /// blip2-stage2: queries, Q-Former and the new projection on every turn of `train` (the world's
    /// captions and questions), the LLM frozen; writes a `Blip2ForConditionalGeneration` directory,
    /// scored on `test` as `vlkit generate` loads it.
    @discardableResult
    public func trainBlip2Stage2(
        _ model: Blip2ForConditionalGeneration, tokenizer: Tokenizer, on train: TrainingData, test: WorldData?,
        processor: ImageProcessor, settings: TrainingSettings, output: URL,
        validation: (data: TrainingData, every: Int)? = nil
    ) throws -> Trainer {
        let padId = tokenizer.padTokenId ?? 0
        func batches(_ data: TrainingData) throws -> (Batches<ExampleBatch>, Tensor) {
            let examples = data.turns.map {
                Blip2Pretraining.example(
                    tokenizer, model: model, prompt: $0.question, answer: $0.answer, image: $0.image)
            }
            return (
                .examples(examples, padId: padId),
                try data.images.encoded(processor: processor) { model.vision_model.features($0) }
            )
        }
        let (training, features) = try batches(train)
        let trainer = try makeTrainer("blip2 stage 2", model, settings, output)
        if let (data, every) = validation {
            let (held, heldFeatures) = try batches(data)
            trainer.validate(every: every, on: held, Blip2Pretraining.stage2Loss(model, features: heldFeatures))
        }
        try trainer.run(training, Blip2Pretraining.stage2Loss(model, features: features))
        try HFExport.write(model, processor: processor, to: output)
        if let test {
            let pipeline = try GenerationPipeline(directory: output)
            try report(
                "blip2 stage 2", vqa: VQAAccuracy(try WorldEvaluation.answers(pipeline, samples: test.samples)),
                output: output)
        }
        return trainer
    }

    /// minigpt4: `llama_proj` alone of `model` (assembled from the `blip2` and `languageModel`
    /// directories) between its frozen vision tower and Q-Former and its frozen LLaMA, on every
    /// turn of `train`; writes the three parts and the `config.json` naming them (`MiniGPT4Config`),
    /// which `loadModel` and `GenerationPipeline` open.
    @discardableResult
    public func trainMiniGPT4(
        _ model: MiniGPT4, blip2: URL, languageModel: URL, on train: TrainingData, test: WorldData?,
        processor: ImageProcessor, settings: TrainingSettings, output: URL,
        validation: (data: TrainingData, every: Int)? = nil
    ) throws -> Trainer {
        let config = MiniGPT4Config()
        try copyFiles(from: blip2, to: output.appendingPathComponent(config.blip2))
        try copyFiles(from: languageModel, to: output.appendingPathComponent(config.languageModel))
        let tokenizer = try Tokenizer(directory: languageModel)
        let imageToken = try imageTokenId(tokenizer, languageModel.path), queries = model.query_tokens.shape[1]
        let padId = tokenizer.padTokenId ?? 0
        func batches(_ data: TrainingData) throws -> (Batches<ExampleBatch>, Tensor) {
            let examples = data.turns.map {
                MiniGPT4Alignment.example(
                    tokenizer, queries: queries, imageTokenId: imageToken, question: $0.question, answer: $0.answer,
                    image: $0.image)
            }
            return (
                .examples(examples, padId: padId),
                try MiniGPT4Alignment.queryOutputs(model, images: data.images, processor: processor)
            )
        }
        let (training, outputs) = try batches(train)
        let trainer = try makeTrainer("minigpt4", model, settings, output)
        if let (data, every) = validation {
            let (held, heldOutputs) = try batches(data)
            trainer.validate(
                every: every, on: held,
                MiniGPT4Alignment.loss(model, queryOutputs: heldOutputs, imageTokenId: imageToken))
        }
        try trainer.run(training, MiniGPT4Alignment.loss(model, queryOutputs: outputs, imageTokenId: imageToken))
        try writeSafetensors(
            model.llama_proj.stateDict().mapKeys { "llama_proj." + $0 }, metadata: ["format": "pt"],
            to: output.appendingPathComponent(config.projection))
        try writeJSON(config.jsonObject, to: output.appendingPathComponent("config.json"))
        guard let test else { return trainer }
        let (loaded, loadedTokenizer, loadedProcessor) = try MiniGPT4Alignment.load(output)
        let outcomes = try test.samples.flatMap { s in
            try s.questions.map { qa in
                VQAOutcome(
                    questionType: qa.type.rawValue,
                    prediction: try MiniGPT4Alignment.answer(
                        loaded, tokenizer: loadedTokenizer, question: qa.question,
                        pixels: loadedProcessor.batch([s.scene.render()])), truth: qa.answer)
            }
        }
        try report("minigpt4", vqa: VQAAccuracy(outcomes), output: output)
        return trainer
    }

    /// Recall over the images whose captions all differ (the first image of each caption), so each
    /// query has one right answer; `scores(rows, texts)` gives [image][text] row-major.
    private func distinctCaptionRecall(
        _ captions: [String], scores: ([Int], [String]) -> [Float]
    ) -> (RetrievalRecall, Int) {
        var seen = Set<String>()
        let rows = captions.indices.filter { seen.insert(captions[$0]).inserted }
        let flat = scores(rows, rows.map { captions[$0] }), n = rows.count
        return (
            RetrievalRecall(
                similarity: (0..<n).map { Array(flat[($0 * n)..<(($0 + 1) * n)]) }, imageOfText: Array(0..<n)), n
        )
    }

    private func report(_ stage: String, retrieval r: RetrievalRecall, count: Int, output: URL) throws {
        let chance = 1 / Double(max(count, 1))
        log(
            String(
                format: "%@: test retrieval over %d images, R@1 image→text %.3f, text→image %.3f (chance %.3f)",
                stage, count, r.imageToText[1]!, r.textToImage[1]!, chance))
        try writeJSON(
            [
                "split": "test", "images": count, "image_to_text_r1": r.imageToText[1]!,
                "text_to_image_r1": r.textToImage[1]!,
                "image_to_text_r5": r.imageToText[5]!, "chance_r1": chance,
            ],
            to: output.appendingPathComponent("eval.json"))
    }

    private func report(_ stage: String, vqa: VQAAccuracy, output: URL) throws {
        log(
            String(
                format: "%@: test VQA accuracy %.3f over %d questions (answer-type prior %.3f)",
                stage, vqa.overall.accuracy, vqa.overall.count, vqa.typePriorBaseline))
        try writeJSON(
            vqa.jsonObject.merging(["split": "test"]) { a, _ in a }, to: output.appendingPathComponent("eval.json"))
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
