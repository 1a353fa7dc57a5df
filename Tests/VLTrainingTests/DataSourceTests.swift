import Foundation
import VLImaging
import VLModels
import VLNN
import VLTensor
import VLTokenizers
import XCTest
@testable import VLTraining
import VLTestSupport

/// A recipe's `data`: the same scenes through the files `vlkit data synth` writes and through the
/// world train the same way, and every bad input is an error naming its field.
final class DataSourceTests: TemporaryDirectoryTestCase {
    static let scenes = 12

    /// A tiny world CLIP (`clip/`), LLaMA (`lm/`) and a LLaVA of the two (`stage1/`), as their recipes write them.
    func writeTinyModels() throws {
        GlobalRandom.seed(5)
        let fm = FileManager.default
        let processor = CLIPPretraining.worldProcessor(imageSize: 64)
        let (clipDir, lmDir, llavaDir) = (
            directory.appendingPathComponent("clip"), directory.appendingPathComponent("lm"),
            directory.appendingPathComponent("stage1")
        )
        for d in [clipDir, lmDir, llavaDir] { try fm.createDirectory(at: d, withIntermediateDirectories: true) }
        let vocab = try WorldTokenizers.writeCLIPTokenizer(to: clipDir, maxLength: 32)
        let clip = try CLIPModel(CLIPPretraining.worldConfig(vocabSize: vocab, imageSize: 64, hidden: 32, layers: 2))
        try HFExport.write(clip, processor: processor, to: clipDir)
        try WorldTokenizers.writeLanguageModelTokenizer(to: lmDir)
        let tokenizer = try Tokenizer(directory: lmDir)
        let lm = try LlamaForCausalLM(
            LanguageModelPretraining.worldConfig(vocabSize: tokenizer.vocabSize, hidden: 32, layers: 2))
        try HFExport.write(lm, to: lmDir)
        try WorldTokenizers.writeLanguageModelTokenizer(to: llavaDir)
        let llava = try LlavaAlignment.assemble(
            clip: clip, languageModel: lm, imageTokenId: tokenizer.tokenId("<image>")!,
            selection: RecipeRunner.worldFeatureSelection)
        try HFExport.write(llava, processor: processor, to: llavaDir)
    }

    /// The world's first `count` training scenes (seed 0) as `vlkit data synth` writes them, under `data/`.
    @discardableResult
    func writeWorld(_ count: Int = scenes) throws -> URL {
        let out = directory.appendingPathComponent("data")
        try WorldExport.write(World().samples(.train, count: count, seed: 0), to: out)
        return out
    }

    func recipe(_ json: String, _ overrides: [String] = []) throws -> Recipe {
        let url = directory.appendingPathComponent("recipe-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: url)
        return try Recipe(contentsOf: url, overrides: overrides)
    }

    /// Runs `recipe`; the training losses, and what it logged.
    func train(_ recipe: Recipe) throws -> (losses: [Float], log: [String]) {
        var runner = RecipeRunner()
        var losses: [Float] = [], logged: [String] = []
        runner.onStep = { _, _, record in losses.append(record.loss) }
        runner.log = { logged.append($0) }
        try runner.run(recipe)
        return (losses, logged)
    }

    func maxRelativeDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) / max(abs($1), 1e-12) }.max() ?? .infinity
    }

    let tiny = #""training": {"steps": 6, "batch_size": 8, "warmup_steps": 0, "learning_rate": 0.003}"#

    func testLlavaStage2TrainsTheSameOnItsLLaVAFileAsOnTheWorldsScenes() throws {
        try writeTinyModels()
        try writeWorld()
        let common = #""recipe": "llava-stage2", "model": "stage1", "# + tiny
        let world = try train(recipe("{\(common), \"output\": \"w\", \"world\": {\"train_scenes\": \(Self.scenes)}}"))
        let files = try train(
            recipe("{\(common), \"output\": \"f\", \"data\": {\"llava_json\": \"data/llava.json\", \"strict\": true}}"))
        XCTAssertEqual(world.losses.count, 6)
        XCTAssertEqual(files.losses.count, 6)
        let worst = maxRelativeDifference(files.losses, world.losses)
        print("llava-stage2, llava.json against the world: max relative loss difference \(worst) over \(world.losses)")
        XCTAssertLessThan(worst, 0.01, "files \(files.losses), world \(world.losses)")
        XCTAssertTrue(
            files.log.contains { $0.contains("llava.json (\(Self.scenes) conversations of \(Self.scenes) images)") },
            "\(files.log)")
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: directory.appendingPathComponent("f/model.safetensors").path))
    }

    func testLlavaStage1TrainsTheSameOnItsCaptionsFileAsOnTheWorldsScenes() throws {
        try writeTinyModels()
        try writeWorld()
        let common = #""recipe": "llava-stage1", "vision": "clip", "language_model": "lm", "# + tiny
        let world = try train(recipe("{\(common), \"output\": \"w\", \"world\": {\"train_scenes\": \(Self.scenes)}}"))
        let files = try train(
            recipe(
                "{\(common), \"output\": \"f\", \"data\": {\"captions\": \"data/captions.jsonl\", \"images\": \"data\"}}"
            ))
        let worst = maxRelativeDifference(files.losses, world.losses)
        print(
            "llava-stage1, captions.jsonl against the world: max relative loss difference \(worst) over \(world.losses)"
        )
        XCTAssertEqual(files.losses.count, 6)
        XCTAssertLessThan(worst, 0.01, "files \(files.losses), world \(world.losses)")
    }

    func testFlamingoTrainsTheSameOnTheWorldsDocumentsWrittenAsAnInterleavedFile() throws {
        try writeTinyModels()
        let data = try writeWorld()
        // The world's documents in the interleaved format, their images those `vlkit data synth` wrote.
        let samples = World().samples(.train, count: Self.scenes, seed: 0)
        let lines = try TrainingData.world(samples).documents.map { d -> String in
            let record: [String: Any] = ["images": d.images.map { "images/\(samples[$0].id).png" }, "text": d.text]
            return String(
                decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]), as: UTF8.self)
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(
            to: data.appendingPathComponent("interleaved.jsonl"))
        let common =
            #""recipe": "flamingo", "vision": "clip", "language_model": "lm", "evaluation": {"test_scenes": 1, "shots": [0]}, "#
            + tiny
        let world = try train(recipe("{\(common), \"output\": \"w\", \"world\": {\"train_scenes\": \(Self.scenes)}}"))
        let files = try train(
            recipe(
                "{\(common), \"output\": \"f\", \"data\": {\"interleaved\": \"data/interleaved.jsonl\", \"strict\": true}}"
            ))
        let worst = maxRelativeDifference(files.losses, world.losses)
        print(
            "flamingo, interleaved.jsonl against the world: max relative loss difference \(worst) over \(world.losses)")
        XCTAssertEqual(files.losses.count, 6)
        XCTAssertLessThan(worst, 0.01, "files \(files.losses), world \(world.losses)")
        XCTAssertTrue(
            files.log.contains { $0.contains("not scored on the built-in world's test split") }, "\(files.log)")
    }

    func testAHeldOutFileIsMeasuredEveryValidationEverySteps() throws {
        try writeTinyModels()
        try writeWorld()
        let out = directory.appendingPathComponent("validation")
        try WorldExport.write(World().samples(.validation, count: 4, seed: 0), to: out)
        var runner = RecipeRunner()
        var validation: [Int: Float] = [:]
        runner.onStep = { _, _, r in if let v = r.validationLoss { validation[r.step] = v } }
        try runner.run(
            recipe(
                "{\"recipe\": \"llava-stage2\", \"model\": \"stage1\", \"output\": \"v\", \(tiny), "
                    + "\"data\": {\"llava_json\": \"data/llava.json\", \"validation\": \"validation/llava.json\", \"validation_every\": 4}}"
            ))
        XCTAssertEqual(validation.keys.sorted(), [4, 6])
        XCTAssertTrue(validation.values.allSatisfy { $0.isFinite && $0 > 0 }, "\(validation)")
    }

    func testTheDataSectionResolvesPathsAgainstTheRecipeAndTakesOverrides() throws {
        try writeWorld(2)
        let r = try recipe(
            #"{"recipe": "llava-stage2", "output": "o", "model": "m"}"#,
            ["data.llava_json=data/llava.json", "data.images=data", "data.strict=true"])
        XCTAssertEqual(r.data?.llavaJSON, directory.appendingPathComponent("data/llava.json").path)
        XCTAssertEqual(r.data?.images, directory.appendingPathComponent("data").path)
        XCTAssertEqual(r.data?.strict, true)
        XCTAssertEqual(r.data?.file?.kind, .llavaJSON)
        XCTAssertNil(try recipe(#"{"recipe": "clip", "output": "o"}"#).data, "no data: the world")
    }

    func assertError(
        _ json: String, _ overrides: [String] = [], run: Bool = false, contains texts: String...,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(
            try {
                let r = try recipe(json, overrides); if run { _ = try train(r) }
            }(), file: file, line: line
        ) { error in
            for text in texts {
                XCTAssertTrue("\(error)".contains(text), "\(error) does not say \(text)", file: file, line: line)
            }
        }
    }

    func testBadDataSectionsAreErrorsNamingTheField() throws {
        try writeWorld(2)
        let s2 = #"{"recipe": "llava-stage2", "output": "o", "model": "m", "#
        assertError(
            s2 + #""data": {"llava_json": "missing.json"}}"#, run: true, contains: "\"data.llava_json\"",
            "missing.json: no such file")
        assertError(
            s2 + #""data": {"llava_jsn": "data/llava.json"}}"#, contains: "\"data.llava_jsn\" is not a recipe field",
            "llava_json")
        assertError(
            #"{"recipe": "clip", "output": "o"}"#, ["data.llava_json=data/llava.json"],
            contains: "\"data.llava_json\": clip does not train on LLaVA conversation JSON", "\"data.captions\"")
        assertError(
            #"{"recipe": "flamingo", "output": "o", "vision": "v", "language_model": "l", "data": {"captions": "data/captions.jsonl"}}"#,
            contains: "\"data.captions\": flamingo does not train on image–caption JSONL", "\"data.interleaved\"")
        assertError(
            #"{"recipe": "vpgtrans", "output": "o", "model": "m", "language_model": "l", "data": {"llava_json": "data/llava.json"}}"#,
            contains: "\"data.llava_json\": vpgtrans trains on the built-in world only")
        assertError(
            s2 + #""data": {"llava_json": "data/llava.json", "captions": "data/captions.jsonl"}}"#,
            contains: "cannot both be set")
        assertError(
            s2 + #""data": {"images": "data"}}"#, contains: "\"data\" names no dataset file", "\"data.llava_json\"")
        assertError(
            s2 + #""data": {"llava_json": "data/llava.json", "images": "no-such-folder"}}"#, run: true,
            contains: "\"data.images\"", "no-such-folder: no such folder")
        assertError(
            s2 + #""data": {"llava_json": "data/llava.json", "validation_every": 5}}"#,
            contains: "\"data.validation_every\" needs \"data.validation\"")
        assertError(
            s2 + #""data": {"llava_json": "data/llava.json", "validation": "nope.json"}}"#, run: true,
            contains: "\"data.validation\"", "nope.json: no such file")
        assertError(
            s2 + #""data": {"llava_json": "data/llava.json", "strict": "yes"}}"#,
            contains: "\"data.strict\" has the wrong type")
        assertError(
            #"{"recipe": "albef", "output": "o", "data": {"captions": "data/captions.jsonl", "validation": "data/captions.jsonl"}}"#,
            contains: "\"data.validation\" is not read by albef")
    }

    func testAFileOfAnotherKindOfDatasetIsNamedBeforeAnyTraining() throws {
        try writeWorld(2)
        // No model directories: the data is read first, so these fail on the data.
        let s2 = #"{"recipe": "llava-stage2", "output": "o", "model": "m", "#
        assertError(
            s2 + #""data": {"llava_json": "data/captions.jsonl"}}"#, run: true,
            contains: "\"data.llava_json\"", "captions.jsonl holds image–caption JSONL, not LLaVA conversation JSON")
        assertError(
            #"{"recipe": "clip", "output": "o", "data": {"captions": "data/llava.json"}}"#, run: true,
            contains: "\"data.captions\"", "llava.json holds LLaVA conversation JSON, not image–caption JSONL")
        try Data(#"{"images": ["images/train-0.png"], "text": "<image>a red circle"}"#.utf8).write(
            to: directory.appendingPathComponent("docs.jsonl"))
        assertError(
            #"{"recipe": "clip", "output": "o", "data": {"captions": "docs.jsonl"}}"#, run: true,
            contains: "holds interleaved documents JSONL, not image–caption JSONL")
        try Data("[1, 2".utf8).write(to: directory.appendingPathComponent("broken.json"))
        assertError(
            s2 + #""data": {"llava_json": "broken.json"}}"#, run: true, contains: "\"data.llava_json\"",
            "broken.json: not valid JSON")
    }

    func testAnImageThatDoesNotDecodeIsSkippedWithAWarningOrStrictlyAnErrorWithItsLine() throws {
        try writeTinyModels()
        let data = try writeWorld()
        try Data("not a png".utf8).write(to: data.appendingPathComponent("images/train-3.png"))
        let s2 = "{\"recipe\": \"llava-stage2\", \"model\": \"stage1\", \"output\": \"o\", \(tiny), "
        let lenient = try train(recipe(s2 + #""data": {"llava_json": "data/llava.json"}}"#))
        XCTAssertEqual(lenient.losses.count, 6)
        XCTAssertTrue(
            lenient.log.contains {
                $0.hasPrefix("warning: ") && $0.contains("llava.json: skipped 1 of \(Self.scenes) entries")
                    && $0.contains("image")
            },
            "\(lenient.log)")
        XCTAssertTrue(
            lenient.log.contains { $0.contains("(\(Self.scenes - 1) conversations of \(Self.scenes - 1) images)") },
            "\(lenient.log)")
        assertError(
            s2 + #""data": {"llava_json": "data/llava.json", "strict": true}}"#, run: true,
            contains: "\"data.llava_json\"", "llava.json line ", "train-3.png")
        assertError(
            s2 + #""data": {"captions": "data/captions.jsonl", "strict": true}}"#, run: true,
            contains: "\"data.captions\"", "captions.jsonl line 4", "train-3.png")
    }

    func testTheWorldIsADatasetLikeTheFilesItWrites() throws {
        let samples = World().samples(.train, count: 5, seed: 0)
        let out = directory.appendingPathComponent("w")
        try WorldExport.write(samples, to: out)
        let world = TrainingData.world(samples)
        let conversations = try TrainingData.load(
            .llavaJSON, file: out.appendingPathComponent("llava.json"), field: "data.llava_json")
        let captions = try TrainingData.load(
            .captions, file: out.appendingPathComponent("captions.jsonl"), field: "data.captions")
        XCTAssertEqual(conversations.turns, world.turns)
        XCTAssertEqual(captions.captions, world.captions)
        XCTAssertEqual(captions.captionTurns, world.captionTurns)
        let processor = CLIPPretraining.worldProcessor(imageSize: 64)
        XCTAssertEqual(
            try conversations.images.table(processor: processor).toArray(),
            try world.images.table(processor: processor).toArray())
        // Documents: every world document has its scenes' texts in chunks, one `<image>` each.
        for d in world.documents {
            XCTAssertEqual(d.images.count, TrainingData.imagesPerDocument)
            XCTAssertEqual(d.text.components(separatedBy: "<image>").count - 1, d.images.count)
            XCTAssertTrue(d.text.hasSuffix("<|endofchunk|>"))
        }
        let twins = world.withShapeTwins(imageSize: 64, seed: 0)
        XCTAssertFalse(twins.hardNegatives.isEmpty)
        for (row, twin) in twins.hardNegatives {
            XCTAssertNotEqual(twins.captions[row].text, twins.captions[twin].text)
        }
        XCTAssertEqual(
            captions.withShapeTwins(imageSize: 64, seed: 0).captions, captions.captions, "files have no twins")
    }

    func testBatchesFollowTheSeededEpochsAndResumeWhereTheyStopped() throws {
        let order = BatchOrder(count: 10, batchSize: 4, seed: 3, dropLast: true)
        XCTAssertEqual(order.batchesPerEpoch, 2)
        XCTAssertEqual((0..<2).map(order.batch), order.batches(epoch: 0))
        XCTAssertEqual((2..<4).map(order.batch), order.batches(epoch: 1))
        // The trainer's loop: micro-batch m of step s is batch s·accumulation + m.
        var settings = TrainingSettings(steps: 5, batchSize: 4, learningRate: 1e-3, warmupSteps: 0)
        settings.seed = 3
        settings.accumulation = 2
        let model = Linear(1, 1)
        let trainer = Trainer(model: model, settings: settings)
        var seen: [[Int]] = []
        try trainer.run(Batches(count: 10) { $0 }) { rows, _ in
            seen.append(rows)
            return (model(Tensor([1], shape: [1, 1])).sum() * 0, rows.count)
        }
        XCTAssertEqual(seen, (0..<10).map(order.batch))
    }
}
