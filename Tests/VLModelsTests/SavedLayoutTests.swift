import Foundation
import XCTest
import VLImaging
import VLIO
import VLTensor
@testable import VLModels
import VLTestSupport

/// Whole model directories as transformers 4.45, 4.57 and 5.x write them (model and processor
/// `save_pretrained`, f32 and f16, image sizes that are not 224; Tests/Fixtures/layouts, written by
/// tools/fixtures/make_layout_fixtures.py): the chat template's prompt, the processor's pixels,
/// the expanded ids, the last logits and the greedy tokens all as transformers gives them.
final class SavedLayoutTests: XCTestCase {
    struct Reference: Decodable {
        struct Prompt: Decodable {
            let name: String
            let messages: [Message]?
            let prompt_text: String
            let input_ids: [Int]
            let greedy_ids: [Int]
            let greedy_text: String
        }
        struct Message: Decodable {
            let role: String
            let content: Content
        }
        enum Content: Decodable {
            case text(String)
            case parts([Part])
            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let s = try? c.decode(String.self) {
                    self = .text(s)
                } else {
                    self = .parts(try c.decode([Part].self))
                }
            }
        }
        struct Part: Decodable {
            let type: String
            let text: String?
        }
        let transformers_version: String
        let prompts: [Prompt]
    }

    static let root = fixturesRoot.appendingPathComponent("layouts")

    func reference(_ name: String) throws -> (Reference, [String: Tensor]) {
        let dir = Self.root.appendingPathComponent(name)
        let json = try JSONDecoder().decode(
            Reference.self, from: Data(contentsOf: dir.appendingPathComponent("reference.json")))
        return (json, try loadSafetensors(path: dir.appendingPathComponent("reference.safetensors").path))
    }

    static func chatMessage(_ m: Reference.Message) -> ChatMessage {
        switch m.content {
        case .text(let s): return ChatMessage(role: m.role, content: .text(s))
        case .parts(let parts):
            return ChatMessage(
                role: m.role, content: .parts(parts.map { $0.type == "image" ? .image : .text($0.text ?? "") }))
        }
    }

    func checkGenerative(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let (ref, tensors) = try reference(name)
        let pipeline = try GenerationPipeline(directory: Self.root.appendingPathComponent(name))
        let image = try RGBImage(contentsOf: Self.root.appendingPathComponent("image.png"))
        let what = "\(name) (transformers \(ref.transformers_version))"
        let pixels = try XCTUnwrap(pipeline.processor, "\(what): no image processor", file: file, line: line).batch([
            image
        ])
        assertClose(pixels, tensors["pixel_values"]!, tol: 1e-5, "\(what) pixel values", file: file, line: line)
        for prompt in ref.prompts {
            let label = "\(what) \(prompt.name)"
            var formatted = (text: prompt.prompt_text, addSpecialTokens: true)
            if let messages = prompt.messages {
                formatted = try pipeline.format(conversation: messages.map(Self.chatMessage))
                XCTAssertEqual(formatted.text, prompt.prompt_text, "\(label): chat template", file: file, line: line)
            }
            let (ids, embeddings) = try pipeline.prepare(formatted: formatted, images: [image])
            XCTAssertEqual(ids, prompt.input_ids, "\(label): input ids", file: file, line: line)
            let lm = pipeline.model.languageModel
            let logits = noGrad {
                lm.logits(lm.hiddenStates(embeddings, positions: Array(0..<ids.count), cache: nil, keyPadding: nil))
            }
            assertClose(
                logits.select(1, ids.count - 1).reshape([-1]), tensors["\(prompt.name).last_logits"]!,
                "\(label) last logits",
                file: file, line: line)
            let result = try pipeline.generate(
                formatted: formatted, images: [image], sampling: SamplingParameters(),
                maxTokens: prompt.greedy_ids.count, onText: { _ in true })
            // transformers keeps the EOS that ended an answer; the stop token ends ours without being kept.
            let expected =
                prompt.greedy_ids.last.map { pipeline.stopTokenIds.contains($0) } == true
                ? Array(prompt.greedy_ids.dropLast()) : prompt.greedy_ids
            XCTAssertEqual(
                result.tokens.prefix(expected.count).map { $0 }, expected, "\(label): greedy tokens", file: file,
                line: line)
            XCTAssertEqual(result.text, prompt.greedy_text, "\(label): greedy text", file: file, line: line)
        }
    }

    func testLlavaSavedByTransformers5() throws {
        try checkGenerative("llava_t5_f32")
        try checkGenerative("llava_t5_f16")
    }

    func testLlavaSavedByTransformers4() throws {
        try checkGenerative("llava_t4_57")
        // 4.45's processor_config has no num_additional_image_tokens (transformers 5 then miscounts and
        // fails); the image tokens come from the vision config, as 4.45 counts them.
        try checkGenerative("llava_t4_45")
    }

    func testLlavaWithATemplateThatTakesStringContent() throws { try checkGenerative("llava_string_template") }

    /// The transformers 5 LLaVA as llama.cpp users hold it: its language model converted by
    /// convert_hf_to_gguf.py, its vision tower and projector by llama.cpp's image-encoder converter
    /// (tools/fixtures/make_gguf_model_fixtures.py, case llava_pair). On the directory's ids it gives
    /// transformers' pixels, last logits and greedy answers from the directory (the converter stores
    /// the patch convolution and the projector in f16, hence the looser logits); its own tokenizer is
    /// the one the converter rebuilt, and gives the ids transformers' tokenizer of that file gives.
    func testLlavaFromAGGUFModelAndItsMmproj() throws {
        let pair = fixturesRoot.appendingPathComponent("gguf_models/llava_pair")
        let directory = try ModelRegistry.open(
            pair.appendingPathComponent("model.gguf"), mmproj: pair.appendingPathComponent("mmproj.gguf"))
        XCTAssertEqual(directory.modelType, "llava")
        let pipeline = try GenerationPipeline(directory, format: .f32)
        let (ref, tensors) = try reference("llava_t5_f32")
        let image = try RGBImage(contentsOf: Self.root.appendingPathComponent("image.png"))
        let pixels = try XCTUnwrap(pipeline.processor).batch([image])
        assertClose(pixels, tensors["pixel_values"]!, tol: 1e-5, "pixel values")
        for prompt in ref.prompts {
            let embeddings = try noGrad {
                try pipeline.model.inputEmbeddings(PromptTokens(ids: prompt.input_ids), pixels: pixels)
            }
            let lm = pipeline.model.languageModel, n = prompt.input_ids.count
            let logits = noGrad {
                lm.logits(lm.hiddenStates(embeddings, positions: Array(0..<n), cache: nil, keyPadding: nil))
            }
            assertClose(
                logits.select(1, n - 1).reshape([-1]), tensors["\(prompt.name).last_logits"]!, tol: 2e-3,
                "\(prompt.name) last logits")
            let expected =
                prompt.greedy_ids.last.map { pipeline.stopTokenIds.contains($0) } == true
                ? Array(prompt.greedy_ids.dropLast()) : prompt.greedy_ids
            let tokens = Generator(model: lm).generate(
                promptEmbeddings: embeddings, promptIds: prompt.input_ids, sampling: SamplingParameters(),
                stop: StopConditions(maxNewTokens: expected.count)
            ).0
            XCTAssertEqual(tokens, expected, "\(prompt.name): greedy tokens")
        }
        struct TokenizerCase: Decodable { let text: String, ids: [Int] }
        let cases = try JSONDecoder().decode(
            [TokenizerCase].self, from: Data(contentsOf: pair.appendingPathComponent("tokenizer_reference.json")))
        for c in cases { XCTAssertEqual(pipeline.tokenizer.encode(c.text), c.ids, c.text) }
    }

    func testBlip2SavedByTransformers5() throws {
        try checkGenerative("blip2_t5_f32")
        try checkGenerative("blip2_t5_f16")
    }

    func testBlip2SavedByTransformers4() throws {
        try checkGenerative("blip2_t4_57")
        try checkGenerative("blip2_t4_45")
    }

    /// A processor whose size disagrees with the vision tower's image_size is refused when the model
    /// loads, naming both sizes — before, the patch grid overran the position embeddings in a trap.
    func testAProcessorSizeThatDisagreesWithTheVisionTowerIsAClearError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-layout-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: Self.root.appendingPathComponent("llava_t5_f32"), to: dir)
        let url = dir.appendingPathComponent("processor_config.json")
        var processor = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var image = try XCTUnwrap(processor["image_processor"] as? [String: Any])
        image["crop_size"] = ["height": 48, "width": 48]
        image["size"] = ["shortest_edge": 48]
        processor["image_processor"] = image
        try JSONSerialization.data(withJSONObject: processor).write(to: url)
        XCTAssertThrowsError(try GenerationPipeline(directory: dir)) {
            XCTAssertTrue("\($0)".contains("48×48") && "\($0)".contains("30×30"), "\($0)")
        }
    }

    /// Each message reaches the template in the form the template reads: the Hub's llava-1.5 template
    /// filters parts (a plain string would lose its text there — transformers renders "USER: ASSISTANT:"),
    /// a template that adds the content to a string gets one string with the images marked in place.
    func testMessagesReachTheTemplateInTheFormItReads() throws {
        let hub = try GenerationPipeline(directory: Self.root.appendingPathComponent("llava_t5_f32"))
        XCTAssertEqual(hub.templateContent, .parts)
        XCTAssertEqual(
            try hub.format(conversation: [ChatMessage(role: "user", content: .text("Hello there"))]).text,
            "USER: Hello there ASSISTANT:")
        let plain = try GenerationPipeline(directory: Self.root.appendingPathComponent("llava_string_template"))
        XCTAssertEqual(plain.templateContent, .string)
        let parts = ChatMessage(role: "user", content: .parts([.text("What is in the image?"), .image]))
        XCTAssertEqual(try plain.format(conversation: [parts]).text, "USER: What is in the image?<image> ASSISTANT:")
        let either =
            "{% for m in messages %}{% if m['content'] is string %}{{ m['content'] }}{% else %}"
            + "{% for c in m['content'] %}{{ c['text'] }}{% endfor %}{% endif %}{% endfor %}"
        XCTAssertEqual(TemplateContentFormat(template: either), .either)
        XCTAssertEqual(TemplateContentFormat(template: "{{ messages[0].content[0]['text'] }}"), .parts)
        XCTAssertEqual(
            TemplateContentFormat(template: "{% for c in message.content %}{{ c.text }}{% endfor %}"), .parts)
    }
}

/// A CLIP saved by transformers 5 with its whole CLIPProcessor (processor_config.json, 36 px images).
final class SavedCLIPLayoutTests: XCTestCase {
    func testClipSavedByTransformers5GivesItsEmbeddings() throws {
        let dir = SavedLayoutTests.root.appendingPathComponent("clip_t5")
        let ref = try loadSafetensors(path: dir.appendingPathComponent("reference.safetensors").path)
        let json = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("reference.json")))
                as? [String: Any])
        let texts = try XCTUnwrap(json["texts"] as? [String])
        let pipeline = try CLIPPipeline(directory: dir)
        let image = try RGBImage(contentsOf: SavedLayoutTests.root.appendingPathComponent("image.png"))
        assertClose(pipeline.processor.batch([image]), ref["pixel_values"]!, tol: 1e-5, "pixel values")
        let ids = try XCTUnwrap(json["input_ids"] as? [[Int]]), mask = try XCTUnwrap(json["attention_mask"] as? [[Int]])
        for (i, text) in texts.enumerated() {
            XCTAssertEqual(
                pipeline.tokenizer.encode(text), Array(ids[i].prefix(mask[i].reduce(0, +))), "ids of \(text)")
        }
        assertClose(pipeline.imageEmbeddings([image]), ref["image_embeds"]!, "image embeddings")
        assertClose(pipeline.textEmbeddings(texts), ref["text_embeds"]!, "text embeddings")
        let logits = pipeline.logitsPerImage(
            imageEmbeds: pipeline.imageEmbeddings([image]), textEmbeds: pipeline.textEmbeddings(texts))
        assertClose(logits, ref["logits_per_image"]!, "logits per image")
    }
}
