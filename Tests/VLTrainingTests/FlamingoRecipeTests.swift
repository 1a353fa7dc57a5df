import Foundation
import VLImaging
import VLIO
import VLModels
import VLNN
import VLTensor
import VLTokenizers
import XCTest
@testable import VLTraining

/// The Flamingo directory (write → load → same logits), its tokenizer with the media tokens,
/// what the recipe trains, and bad input.
final class FlamingoRecipeTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-flamingo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// A tiny world Flamingo with open gates and its tokenizer (world words + `<|endofchunk|>`).
    func makeFlamingo() throws -> (FlamingoForConditionalGeneration, Tokenizer, URL) {
        GlobalRandom.seed(31)
        let source = directory.appendingPathComponent("lm"), model = directory.appendingPathComponent("flamingo")
        try FileManager.default.createDirectory(at: source, withIntermediateDirectories: true)
        try WorldTokenizers.writeLanguageModelTokenizer(to: source)
        try FlamingoPretraining.writeTokenizer(from: source, to: model)
        let tokenizer = try Tokenizer(directory: model)
        let clip = try CLIPModel(CLIPPretraining.worldConfig(vocabSize: 50, imageSize: 32, hidden: 32, layers: 2))
        let lm = try LlamaForCausalLM(
            LanguageModelPretraining.worldConfig(vocabSize: tokenizer.vocabSize, hidden: 32, layers: 2))
        let flamingo = try FlamingoPretraining.assemble(
            clip: clip, languageModel: lm, mediaTokenId: tokenizer.tokenId("<image>")!,
            endOfChunkTokenId: tokenizer.tokenId("<|endofchunk|>")!)
        for block in flamingo.model.gated_cross_attn_layers.items.values {
            (block.attn_gate.value, block.ff_gate.value) = (Tensor([0.5]), Tensor([0.5]))
        }
        return (flamingo, tokenizer, model)
    }

    func images(_ n: Int) -> [RGBImage] { World(imageSize: 32).samples(.test, count: n).map { $0.scene.render() } }

    func testTheTokenizerGainsEndOfChunkAfterTheLastId() throws {
        let (_, tokenizer, _) = try makeFlamingo()
        let old = try Tokenizer(directory: directory.appendingPathComponent("lm"))
        XCTAssertEqual(tokenizer.tokenId("<|endofchunk|>"), old.vocabSize)
        XCTAssertEqual(tokenizer.tokenId("<image>"), old.tokenId("<image>"))
        let ids = tokenizer.encode("<image>a red circle .<|endofchunk|><image>")
        XCTAssertEqual(ids.filter { $0 == 4 }.count, 2)
        XCTAssertTrue(ids.contains(old.vocabSize))
    }

    /// Written in OpenFlamingo's names, loaded back by `loadModel`: the same logits.
    func testTheDirectoryRoundTripsWithTheSameLogits() throws {
        let (flamingo, tokenizer, dir) = try makeFlamingo()
        try HFExport.write(flamingo, processor: CLIPPretraining.worldProcessor(imageSize: 32), to: dir)
        let names = try Checkpoint(directory: dir).names
        XCTAssertTrue(
            names.allSatisfy {
                $0.hasPrefix("vision_encoder.") || $0.hasPrefix("perceiver.") || $0.hasPrefix("lang_encoder.")
            })
        XCTAssertTrue(names.contains("lang_encoder.model.layers.1.decoder_layer.self_attn.q_proj.weight"))
        XCTAssertTrue(names.contains("vision_encoder.transformer.resblocks.0.attn.in_proj_weight"))
        let loaded = try FlamingoForConditionalGeneration.load(directory: dir)
        XCTAssertEqual(
            NSDictionary(dictionary: loaded.config.jsonObject), NSDictionary(dictionary: flamingo.config.jsonObject))
        let ids = tokenizer.encode("<image>a red circle .<|endofchunk|><image>what color")
        let pixels = CLIPPretraining.worldProcessor(imageSize: 32).batch(images(2))
        func logits(_ m: FlamingoForConditionalGeneration) -> [Float] {
            noGrad {
                m.model.logits(
                    ids: Tensor(ints: ids, shape: [1, ids.count]), features: m.imageFeatures(pixels),
                    mediaLocations: [ids.map { $0 == 4 }]
                ).toArray()
            }
        }
        XCTAssertEqual(logits(loaded), logits(flamingo))
    }

    /// The pipeline streams text for an interleaved few-shot prompt and refuses a wrong image count,
    /// a missing weights file and a missing tokenizer with errors that say so.
    func testThePipelineGeneratesAndRefusesBadInput() throws {
        let (flamingo, _, dir) = try makeFlamingo()
        try HFExport.write(flamingo, processor: CLIPPretraining.worldProcessor(imageSize: 32), to: dir)
        let pipeline = try GenerationPipeline(directory: dir)
        let prompt = "<image>a red circle .<|endofchunk|><image>"
        var streamed = ""
        let r = try pipeline.generate(
            prompt: prompt, images: images(2), raw: true, sampling: SamplingParameters(), maxTokens: 5
        ) {
            streamed += $0
            return true
        }
        XCTAssertFalse(r.tokens.isEmpty)
        XCTAssertEqual(streamed.trimmingCharacters(in: .whitespaces), r.text.trimmingCharacters(in: .whitespaces))
        XCTAssertTrue(pipeline.stopTokenIds.contains(flamingo.config.endOfChunkTokenId))
        XCTAssertThrowsError(
            try pipeline.generate(
                prompt: prompt, images: images(1), raw: true, sampling: SamplingParameters(), maxTokens: 2)
        ) {
            XCTAssertTrue("\($0)".contains("2 <image> marker(s) for 1 image(s)"), "\($0)")
        }
        XCTAssertThrowsError(
            try pipeline.generate(prompt: "a red", images: [], raw: true, sampling: SamplingParameters(), maxTokens: 2))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("tokenizer.json"))
        XCTAssertThrowsError(try GenerationPipeline(directory: dir)) {
            XCTAssertTrue("\($0)".contains("tokenizer"), "\($0)")
        }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try ModelRegistry.load(ModelDirectory(dir))) {
            XCTAssertTrue("\($0)".contains("safetensors"), "\($0)")
        }
    }

    /// A few steps move the resampler, the gated blocks and the media-token rows; every other
    /// row of the language model and the vision tower stay as they were.
    func testTrainingMovesOnlyTheConnectorAndTheMediaTokenRows() throws {
        let (flamingo, tokenizer, _) = try makeFlamingo()
        let before = flamingo.stateDict().mapValues { $0.toArray() }
        let data = TrainingData.world(World(imageSize: 32).samples(.train, count: 8))
        let features = try data.images.encoded(processor: CLIPPretraining.worldProcessor(imageSize: 32)) {
            flamingo.vision_encoder.features($0)
        }
        let tokens = [4, tokenizer.tokenId("<|endofchunk|>")!]
        let trainee = FlamingoTrainee(flamingo.model, tokenIds: tokens)
        let trainable = Set(
            trainee.namedParameters().filter { $0.1.isTrainable }.map(\.0).map {
                $0.split(separator: ".").prefix(2).joined(separator: ".")
            })
        XCTAssertEqual(
            trainable, ["flamingo.perceiver", "flamingo.gated_cross_attn_layers", "token_embeddings", "token_outputs"])
        let trainer = Trainer(
            model: trainee, settings: TrainingSettings(steps: 2, batchSize: 4, learningRate: 1e-2, warmupSteps: 0))
        try FlamingoPretraining.train(
            trainee, documents: data.documents, features: features, tokenizer: tokenizer, mediaTokenId: 4,
            trainer: trainer)
        trainee.mergeRows()
        let after = flamingo.stateDict().mapValues { $0.toArray() }
        for (name, values) in before where name.hasPrefix("vision_encoder.") {
            XCTAssertEqual(after[name], values, name)
        }
        XCTAssertNotEqual(after["model.perceiver.latents"], before["model.perceiver.latents"])
        let d = flamingo.config.text.hiddenSize
        for key in ["model.language_model.model.embed_tokens.weight", "model.language_model.lm_head.weight"] {
            let (old, new) = (before[key]!, after[key]!)
            for row in 0..<(old.count / d) {
                let same = old[(row * d)..<((row + 1) * d)] == new[(row * d)..<((row + 1) * d)]
                XCTAssertEqual(same, !tokens.contains(row), "\(key) row \(row)")
            }
        }
        XCTAssertEqual(
            after["model.language_model.model.layers.0.mlp.up_proj.weight"],
            before["model.language_model.model.layers.0.mlp.up_proj.weight"])
    }
}
