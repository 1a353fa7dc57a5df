import Foundation
import XCTest
import VLImaging
import VLIO
import VLModels
import VLNN
import VLTensor
import VLTokenizers
import VLTraining
@testable import VLServer

/// Flamingo, mPLUG-Owl and BLIP-2 directories served over HTTP answer with their images as
/// `vlkit generate` (the pipeline) does for the same prompt, images and seed.
final class MultimodalServingTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-serving-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func worldImages(_ n: Int, size: Int) -> [RGBImage] {
        World(imageSize: size).samples(.test, count: n).map { $0.scene.render() }
    }

    /// A chat message's content parts: strings are text, images become data URLs, in order.
    func parts(_ items: [Any]) throws -> [[String: Any]] {
        try items.map { item in
            if let text = item as? String { return ["type": "text", "text": text] }
            let png = try (item as! RGBImage).pngData()
            return ["type": "image_url", "image_url": ["url": "data:image/png;base64,\(png.base64EncodedString())"]]
        }
    }

    /// The served answer (non-streamed and streamed) to one user message.
    func servedAnswers(
        _ pipeline: GenerationPipeline, content: [[String: Any]], sampling extra: [String: Any],
        maxTokens: Int
    ) throws -> (plain: String?, streamed: String) {
        let server = try RunningServer(model: .generation(pipeline), id: "m")
        defer { server.stop() }
        var body: [String: Any] = [
            "model": "m", "messages": [["role": "user", "content": content]], "max_tokens": maxTokens,
        ]
        body.merge(extra) { $1 }
        let (status, json, _) = try server.post("/v1/chat/completions", body)
        XCTAssertEqual(status, 200, "\(json)")
        let plain = ((json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
        body["stream"] = true
        let response = try server.client.request(
            "POST", "/v1/chat/completions", body: try JSONSerialization.data(withJSONObject: body))
        let chunks = serverSentEvents(response.text).dropLast().map {
            try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        let streamed = chunks.compactMap {
            (($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String
        }
        return (plain, streamed.joined())
    }

    /// A tiny world Flamingo with open gates, written as a directory.
    func writeFlamingo() throws -> URL {
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
            (block.attn_gate.value, block.ff_gate.value) = (Tensor([2]), Tensor([2]))
        }
        try HFExport.write(flamingo, processor: CLIPPretraining.worldProcessor(imageSize: 32), to: model)
        return model
    }

    /// Two images interleaved with text in one message, greedy and seeded, streamed and not: the
    /// pipeline's answer for the same interleaved prompt. Swapping the images changes the answer,
    /// so the server does not ignore them.
    func testFlamingoInterleavedImagesAnswerAsGenerate() throws {
        let pipeline = try GenerationPipeline(directory: try writeFlamingo())
        let images = worldImages(2, size: 32)
        let prompt = "<image>a red circle .<|endofchunk|><image>what color"
        for (sampling, extra) in [
            (SamplingParameters(), ["temperature": 0] as [String: Any]),
            (SamplingParameters(temperature: 1, seed: 7), ["temperature": 1, "seed": 7]),
        ] {
            let want = try pipeline.generate(prompt: prompt, images: images, sampling: sampling, maxTokens: 6).text
            let served = try servedAnswers(
                pipeline, content: try parts([images[0], "a red circle .<|endofchunk|>", images[1], "what color"]),
                sampling: extra, maxTokens: 6)
            XCTAssertEqual(served.plain, want, "\(extra)")
            XCTAssertEqual(served.streamed, want, "\(extra)")
        }
        let seeded = SamplingParameters(temperature: 1, seed: 7)
        let swapped = try pipeline.generate(prompt: prompt, images: images.reversed(), sampling: seeded, maxTokens: 12)
            .text
        let original = try pipeline.generate(prompt: prompt, images: images, sampling: seeded, maxTokens: 12).text
        XCTAssertNotEqual(swapped, original, "the images matter to the answer")
    }

    /// Concurrent Flamingo requests with different images each get the answer they get alone.
    func testConcurrentFlamingoRequestsKeepTheirOwnImages() throws {
        let pipeline = try GenerationPipeline(directory: try writeFlamingo())
        let images = worldImages(4, size: 32)
        let server = try RunningServer(model: .generation(pipeline), id: "m")
        defer { server.stop() }
        let answers = concurrently(images.count) { i -> String? in
            let reply = try? server.post(
                "/v1/chat/completions",
                [
                    "model": "m", "temperature": 0, "max_tokens": 6,
                    "messages": [["role": "user", "content": try! self.parts([images[i], "what color"])]],
                ])
            return ((reply?.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"]
                as? String
        }
        for i in images.indices {
            let want = try pipeline.generate(
                prompt: "<image>what color", images: [images[i]], sampling: SamplingParameters(), maxTokens: 6)
            XCTAssertEqual(answers[i] ?? nil, want.text, "request \(i)")
        }
    }

    /// A tiny world LLaMA with the world tokenizer written to `directory`.
    func worldLanguageModel(tokenizerIn directory: URL) throws -> LlamaForCausalLM {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try WorldTokenizers.writeLanguageModelTokenizer(to: directory)
        let vocab = try Tokenizer(directory: directory).vocabSize
        return try LlamaForCausalLM(LanguageModelPretraining.worldConfig(vocabSize: vocab, hidden: 32, layers: 2))
    }

    /// One image and a question, greedy and seeded, streamed and not: the pipeline's answer.
    func assertServedAsGenerated(
        _ directory: URL, imageSize: Int, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let pipeline = try GenerationPipeline(directory: directory)
        let image = worldImages(1, size: imageSize)[0]
        for (sampling, extra) in [
            (SamplingParameters(), ["temperature": 0] as [String: Any]),
            (SamplingParameters(temperature: 1, seed: 3), ["temperature": 1, "seed": 3]),
        ] {
            let want = try pipeline.generate(
                prompt: "what color is the circle ?", images: [image], sampling: sampling, maxTokens: 5
            ).text
            let served = try servedAnswers(
                pipeline, content: try parts([image, "what color is the circle ?"]), sampling: extra, maxTokens: 5)
            XCTAssertEqual(served.plain, want, "\(extra)", file: file, line: line)
            XCTAssertEqual(served.streamed, want, "\(extra)", file: file, line: line)
        }
    }

    func testMPlugOwlAnswersWithItsImageAsGenerate() throws {
        GlobalRandom.seed(5)
        let out = directory.appendingPathComponent("owl")
        let lm = try worldLanguageModel(tokenizerIn: out)
        let clip = try CLIPModel(CLIPPretraining.worldConfig(vocabSize: 50, imageSize: 32, hidden: 32, layers: 2))
        let owl = try MPlugOwlRecipe.assemble(clip: clip, languageModel: lm, imageTokenId: 4, queries: 3)
        try HFExport.write(owl, processor: CLIPPretraining.worldProcessor(imageSize: 32), to: out)
        try assertServedAsGenerated(out, imageSize: 32)
    }

    func testBlip2AnswersWithItsImageAsGenerate() throws {
        GlobalRandom.seed(6)
        let out = directory.appendingPathComponent("blip2")
        let lm = try worldLanguageModel(tokenizerIn: out)
        let vision = try Blip2VisionModel(
            Blip2VisionContrastive.worldVisionConfig(imageSize: 32, hidden: 32, layers: 2))
        let stage1 = try Blip2Pretraining.assembleStage1(vision: vision, vocabSize: 50)
        let blip2 = try Blip2Pretraining.assembleStage2(stage1: stage1, languageModel: lm, imageTokenId: 4)
        try HFExport.write(blip2, processor: CLIPPretraining.worldProcessor(imageSize: 32), to: out)
        try assertServedAsGenerated(out, imageSize: 32)
    }

    /// A MiniGPT-4 directory as the minigpt4 recipe lays it out: its answers end at `###` on both sides.
    func testMiniGPT4AnswersWithItsImageAsGenerate() throws {
        GlobalRandom.seed(7)
        let out = directory.appendingPathComponent("minigpt4"), config = MiniGPT4Config()
        let lmDirectory = out.appendingPathComponent(config.languageModel)
        let lm = try worldLanguageModel(tokenizerIn: lmDirectory)
        try HFExport.write(lm, to: lmDirectory)
        let vision = try Blip2VisionModel(
            Blip2VisionContrastive.worldVisionConfig(imageSize: 32, hidden: 32, layers: 2))
        let blip2 = try Blip2Pretraining.assembleStage2(
            stage1: try Blip2Pretraining.assembleStage1(vision: vision, vocabSize: 50),
            languageModel: lm, imageTokenId: 4)
        try HFExport.write(
            blip2, processor: CLIPPretraining.worldProcessor(imageSize: 32),
            to: out.appendingPathComponent(config.blip2))
        let projection = Linear(blip2.config.qformer.hiddenSize, lm.config.hiddenSize)
        try writeSafetensors(
            projection.stateDict(), metadata: ["format": "pt"], to: out.appendingPathComponent(config.projection))
        try writeJSON(config.jsonObject, to: out.appendingPathComponent("config.json"))
        XCTAssertEqual(try GenerationPipeline(directory: out).stopStrings, ["###"])
        try assertServedAsGenerated(out, imageSize: 32)
    }

    /// The OpenAI documentation's order of parts — text, then image_url — on LLaVA and BLIP-2 directories
    /// saved by transformers 5 (the Hub's llava-1.5 template selects the image parts): the answers are
    /// transformers' greedy ones (Tests/Fixtures/layouts).
    func testTextThenImagePartsOnDirectoriesSavedByTransformers5() throws {
        let image = try RGBImage(contentsOf: fixture("layouts/image.png"))
        for name in ["llava_t5_f32", "llava_t5_f16", "blip2_t5_f32"] {
            let dir = fixture("layouts/\(name)")
            let reference = try JSONSerialization.jsonObject(
                with: Data(contentsOf: dir.appendingPathComponent("reference.json")))
            let prompts = try XCTUnwrap((reference as? [String: Any])?["prompts"] as? [[String: Any]])
            let prompt = try XCTUnwrap(
                prompts.first { ($0["name"] as? String).map { ["text_then_image", "question"].contains($0) } == true })
            let question = name.hasPrefix("llava") ? "What is in the image?" : "Question: What is in the image? Answer:"
            let expected = try XCTUnwrap(prompt["greedy_text"] as? String)
            let count = try XCTUnwrap(prompt["greedy_ids"] as? [Int]).count
            let served = try servedAnswers(
                try GenerationPipeline(directory: dir), content: try parts([question, image]),
                sampling: ["temperature": 0], maxTokens: count)
            XCTAssertEqual(served.plain, expected, name)
            XCTAssertEqual(served.streamed, expected, name)
        }
    }

    func testPartsKeepTheirPlaceForFormatsThatAreNotTemplates() {
        let turn = { (parts: [ChatMessage.Part]) in ChatMessage(role: "user", content: .parts(parts)) }
        XCTAssertEqual(turn([.image, .image, .text("two")]).text, "<image><image>two")
        XCTAssertEqual(turn([.image, .image, .text("two")]).textOnly, "two")
        XCTAssertEqual(turn([.text("a"), .text("b")]).text, "a\nb")
        XCTAssertEqual(turn([.image, .text("a"), .image, .text("b"), .text("c")]).text, "<image>a<image>b\nc")
        XCTAssertEqual(turn([.text("a"), .image]).imageCount, 1)
        XCTAssertFalse(turn([.text("a"), .image]).hasMarkers)
        XCTAssertTrue(ChatMessage(role: "user", content: .text("<image>\nhi")).hasMarkers)
    }
}
