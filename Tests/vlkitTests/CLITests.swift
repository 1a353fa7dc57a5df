import Foundation
import XCTest

/// Runs the built `vlkit` binary as a user would: results on stdout, one clear error on stderr and a
/// non-zero exit for bad input.
final class CLITests: XCTestCase {
    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("vlkit")
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let model = fixtures.appendingPathComponent("clip/real_vocab").path
    static func image(_ name: String) -> String {
        fixtures.appendingPathComponent("images").appendingPathComponent(name).path
    }

    func testClassifyRanksLabels() throws {
        let r = try vlkit([
            "clip", "classify", "--model", Self.model, "--image", Self.image("rgb.png"), "--labels", "cat, dog,car",
            "--json",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let probs = object["probabilities"] as! [Double]
        XCTAssertEqual(Set(object["labels"] as! [String]), ["cat", "dog", "car"])
        XCTAssertEqual(probs.reduce(0, +), 1, accuracy: 1e-5)
        XCTAssertEqual(probs, probs.sorted(by: >))
    }

    func testEmbedGivesTransformersEmbeddings() throws {
        let r = try vlkit([
            "clip", "embed", "--model", Self.model, "--image", Self.image("rgb.png"), "--image",
            Self.image("baseline.jpg"),
            "--text", "a photo of a cat.", "--json",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let images = object["image_embeds"] as! [[Double]], logits = object["logits_per_image"] as! [[Double]]
        XCTAssertEqual(images.count, 2)
        XCTAssertEqual(logits.count, 2)
        XCTAssertEqual(logits[0].count, 1)
        XCTAssertEqual(images[0].map { $0 * $0 }.reduce(0, +), 1, accuracy: 1e-4)
    }

    func testSearchBuildsAnIndexAndReusesIt() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-search-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["rgb.png", "baseline.jpg", "grey.png", "truncated.jpg"] {
            try FileManager.default.copyItem(atPath: Self.image(name), toPath: folder.appendingPathComponent(name).path)
        }
        let args = [
            "clip", "search", "--model", Self.model, "--images", folder.path, "--query", "a cat", "--top", "2",
            "--json",
        ]
        let first = try vlkit(args)
        XCTAssertEqual(first.status, 0, first.stderr)
        let o1 = try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(o1["embedded"] as? Int, 3)
        XCTAssertEqual(o1["unreadable"] as? Int, 1)
        XCTAssertEqual((o1["results"] as! [Any]).count, 2)
        XCTAssertTrue(first.stderr.contains("truncated.jpg"), "the unreadable file is named on stderr")
        let second = try vlkit(args)
        let o2 = try JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(o2["embedded"] as? Int, 0, "nothing changed, nothing embedded")
        XCTAssertEqual(o2["results"] as! NSArray, o1["results"] as! NSArray)
    }

    func testCaptureWritesInputsAndActivationsInOrder() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent(
            "capture-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: out) }
        let r = try vlkit([
            "clip", "capture", "--model", Self.model, "--image", Self.image("rgb.png"), "--text", "a cat", "--out",
            out.path,
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let data = try Data(contentsOf: out)
        let headerLength = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try JSONSerialization.jsonObject(with: data[8..<(8 + headerLength)]) as! [String: Any]
        let order =
            try JSONSerialization.jsonObject(with: Data(((header["__metadata__"] as! [String: String])["order"]!).utf8))
            as! [String]
        XCTAssertEqual(order.first, "vision_model.embeddings")
        XCTAssertTrue(order.contains("vision_model.encoder.layers.1.self_attn"))
        XCTAssertTrue(order.contains("text_model.final_layer_norm"))
        for name in order { XCTAssertNotNil(header["act." + name], name) }
        XCTAssertNotNil(header["input.pixel_values"])
    }

    /// Tokens transformers generated greedily for the same prompts (tools/fixtures/make_generate_fixtures.py).
    func referenceTokens(_ key: String) throws -> [Int] {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("generate/reference.safetensors"))
        let headerLength = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try JSONSerialization.jsonObject(with: data[8..<(8 + headerLength)]) as! [String: Any]
        let entry = header[key] as! [String: Any], offsets = entry["data_offsets"] as! [Int]
        let start = 8 + headerLength + offsets[0]
        return data[start..<(8 + headerLength + offsets[1])].withUnsafeBytes { raw in
            (0..<(offsets[1] - offsets[0]) / 8).map { Int(raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
        }
    }

    func testGenerateMatchesTransformersGreedyTokens() throws {
        let llava = try vlkit([
            "generate", "--model", Self.fixtures.appendingPathComponent("generate/llava").path,
            "--prompt", "What is in the image?", "--image", Self.image("rgb.png"), "--max-tokens", "12", "--json",
        ])
        XCTAssertEqual(llava.status, 0, llava.stderr)
        let o = try JSONSerialization.jsonObject(with: Data(llava.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(o["tokens"] as? [Int], try referenceTokens("llava_tokens"))
        let text = try vlkit([
            "generate", "--model", Self.fixtures.appendingPathComponent("generate/llama").path,
            "--prompt", "a small red circle", "--raw", "--max-tokens", "12",
        ])
        XCTAssertEqual(text.status, 0, text.stderr)
        let json = try vlkit([
            "generate", "--model", Self.fixtures.appendingPathComponent("generate/llama").path,
            "--prompt", "a small red circle", "--raw", "--max-tokens", "12", "--json",
        ])
        let j = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(j["tokens"] as? [Int], try referenceTokens("llama_tokens"))
        XCTAssertEqual(text.stdout, (j["text"] as! String) + "\n", "streamed text equals the decoded tokens")
        let sampled1 = try vlkit([
            "generate", "--model", Self.fixtures.appendingPathComponent("generate/llama").path, "--prompt", "a",
            "--temperature", "1", "--top-p", "0.9", "--seed", "7", "--max-tokens", "8", "--json",
        ])
        let sampled2 = try vlkit([
            "generate", "--model", Self.fixtures.appendingPathComponent("generate/llama").path, "--prompt", "a",
            "--temperature", "1", "--top-p", "0.9", "--seed", "7", "--max-tokens", "8", "--json",
        ])
        XCTAssertEqual(sampled1.stdout, sampled2.stdout, "the same seed gives the same sample")
    }

    func testEmbedGivesSentenceTransformersEmbeddings() throws {
        let dir = Self.fixtures.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
            ".downloads/all-MiniLM-L6-v2")
        let r = try vlkit(["embed", "--model", dir.path, "--text", "a photo of a cat", "--text", "中文", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let vectors =
            (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any])["embeddings"] as! [[Double]]
        XCTAssertEqual(vectors.count, 2)
        XCTAssertEqual(vectors[0].count, 384)
        XCTAssertEqual(vectors[0][0], 0.032963, accuracy: 1e-5)
        try assertFails(
            ["embed", "--model", Self.model, "--text", "x"], saying: "model_type is \"clip\"; this needs bert")
        try assertFails(["embed", "--model", dir.path], saying: "give at least one --text")
    }

    func testStopStringsCutTheOutput() throws {
        let llama = Self.fixtures.appendingPathComponent("generate/llama").path
        let full = try vlkit([
            "generate", "--model", llama, "--prompt", "a small red circle", "--raw", "--max-tokens", "12",
        ])
        let cut = try vlkit([
            "generate", "--model", llama, "--prompt", "a small red circle", "--raw", "--max-tokens", "12", "--stop",
            "photo",
        ])
        XCTAssertEqual(cut.status, 0, cut.stderr)
        XCTAssertTrue(full.stdout.contains("photo"), "the reference output contains the stop string")
        XCTAssertEqual(cut.stdout, String(full.stdout[..<full.stdout.range(of: "photo")!.lowerBound]) + "\n")
    }

    func testChatKeepsHistoryAndSurvivesBadCommands() throws {
        let llava = Self.fixtures.appendingPathComponent("generate/llava").path
        let input = "What is in the image?\n/image /nonexistent.png\n/foo\nAnd now?\n/reset\n/exit\nnot read\n"
        let r = try vlkit(
            ["chat", "--model", llava, "--image", Self.image("rgb.png"), "--max-tokens", "6"], input: input)
        XCTAssertEqual(r.status, 0, r.stderr)
        let answers = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        XCTAssertEqual(answers.count, 2, r.stdout)
        let single = try vlkit([
            "generate", "--model", llava, "--prompt", "What is in the image?", "--image", Self.image("rgb.png"),
            "--max-tokens", "6",
        ])
        XCTAssertEqual(String(answers[0]) + "\n", single.stdout, "the first turn is what generate says")
        XCTAssertTrue(r.stderr.contains("/nonexistent.png: no such file"))
        XCTAssertTrue(r.stderr.contains("unknown command /foo"))
        XCTAssertTrue(r.stderr.contains("conversation cleared"))
    }

    /// `vlkit generate` on LLaVA and BLIP-2 directories transformers 5 and 4.45 saved (model + processor, f32
    /// and f16): an image and a prompt give transformers' greedy tokens (Tests/Fixtures/layouts).
    func testGenerateOnDirectoriesSavedByTransformers() throws {
        let cases = [
            ("llava_t5_f32", "image_then_text", "What is in the image?"),
            ("llava_t5_f16", "image_then_text", "What is in the image?"),
            ("llava_t4_45", "image_then_text", "What is in the image?"),
            ("blip2_t5_f32", "question", "Question: What is in the image? Answer:"),
            ("blip2_t5_f16", "question", "Question: What is in the image? Answer:"),
        ]
        for (name, promptName, prompt) in cases {
            let dir = Self.fixtures.appendingPathComponent("layouts/\(name)")
            let reference = try JSONSerialization.jsonObject(
                with: Data(contentsOf: dir.appendingPathComponent("reference.json")))
            let prompts = try XCTUnwrap((reference as? [String: Any])?["prompts"] as? [[String: Any]])
            let want = try XCTUnwrap(prompts.first { $0["name"] as? String == promptName })
            let tokens = try XCTUnwrap(want["greedy_ids"] as? [Int])
            let r = try vlkit([
                "generate", "--model", dir.path, "--image",
                Self.fixtures.appendingPathComponent("layouts/image.png").path,
                "--prompt", prompt, "--max-tokens", "\(tokens.count)", "--json",
            ])
            XCTAssertEqual(r.status, 0, r.stderr)
            let out = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            XCTAssertEqual(out["tokens"] as? [Int], tokens, name)
            XCTAssertEqual(out["text"] as? String, want["greedy_text"] as? String, name)
        }
    }

    /// GGUF files through the CLI: generate (a text model; a LLaVA from a model and its mmproj), convert and
    /// what bad GGUF input says.
    func testGGUFFiles() throws {
        let gguf = Self.fixtures.appendingPathComponent("gguf_models")
        let text = gguf.appendingPathComponent("llama_spm_f32/model.gguf").path
        let r = try vlkit(["generate", "--model", text, "--prompt", "Hello", "--max-tokens", "4", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((out["tokens"] as? [Int])?.count, 4)
        let pair = gguf.appendingPathComponent("llava_pair")
        let llava = try vlkit([
            "generate", "--model", pair.appendingPathComponent("model.gguf").path, "--mmproj",
            pair.appendingPathComponent("mmproj.gguf").path, "--image",
            Self.fixtures.appendingPathComponent("layouts/image.png").path, "--prompt", "What is in the image?",
            "--max-tokens", "3",
        ])
        XCTAssertEqual(llava.status, 0, llava.stderr)
        let out8 = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-cli-\(UUID().uuidString).gguf")
        defer { try? FileManager.default.removeItem(at: out8) }
        let converted = try vlkit(["convert", "--to", "gguf", "--type", "q8_0", text, out8.path, "--json"])
        XCTAssertEqual(converted.status, 0, converted.stderr)
        XCTAssertTrue(converted.stdout.contains("\"bytes\""), converted.stdout)
        XCTAssertEqual(
            try vlkit(["generate", "--model", out8.path, "--prompt", "Hello", "--max-tokens", "2"]).status, 0)
        try assertFails(["convert", "--to", "onnx", text, out8.path], saying: "--to must be gguf")
        try assertFails(
            ["convert", "--to", "gguf", "--type", "q3_k", text, out8.path], saying: "--type must be one of")
        try assertFails(
            ["convert", "--to", "gguf", Self.model, out8.path], saying: "cannot be written to GGUF yet")
        try assertFails(
            ["generate", "--model", pair.appendingPathComponent("mmproj.gguf").path, "--prompt", "hi"],
            saying: "pass it with --mmproj")
        try assertFails(
            ["generate", "--model", text, "--mmproj", text, "--prompt", "hi"], saying: "not a vision projector")
        try assertFails(["generate", "--model", Self.image("rgb.png"), "--prompt", "hi"], saying: "not a GGUF file")
    }

    func testGenerateRefusesBadInput() throws {
        let llava = Self.fixtures.appendingPathComponent("generate/llava").path
        try assertFails(
            [
                "generate", "--model", llava, "--prompt", "USER: <image> <image> hi", "--raw", "--image",
                Self.image("rgb.png"),
            ],
            saying: "2 <image> marker(s) for 1 image(s)")
        try assertFails(
            ["generate", "--model", llava, "--prompt", "hello", "--max-tokens", "5000"],
            saying: "exceeds the model's context of 96")
        try assertFails(
            ["generate", "--model", Self.model, "--prompt", "hi"], saying: "model_type \"clip\" does not generate text")
        try assertFails(
            ["generate", "--model", Self.fixtures.appendingPathComponent("llama/gqa_untied").path, "--prompt", "hi"],
            saying: "no tokenizer.json")
        try assertFails(
            ["generate", "--model", llava, "--prompt", "hi", "--top-p", "0"], saying: "--top-p must be in (0, 1]")
        try assertFails(
            ["generate", "--model", llava, "--prompt", "hi", "--image", Self.image("truncated.png")],
            saying: "corrupt PNG")
    }

    func testBadInputGivesOneClearErrorAndANonZeroExit() throws {
        let classify = ["clip", "classify", "--model", Self.model, "--labels", "cat,dog", "--image"]
        try assertFails(classify + [Self.image("not_an_image.jpg")], saying: "not a JPEG or PNG")
        try assertFails(classify + [Self.image("truncated.jpg")], saying: "corrupt JPEG")
        try assertFails(classify + [Self.image("truncated.png")], saying: "corrupt PNG")
        try assertFails(classify + [Self.image("zero_size.png")], saying: "0×0")
        try assertFails(classify + [Self.image("huge.png")], saying: "exceed the limit")
        try assertFails(
            classify + [Self.image("rgb.png"), "--max-pixels", "100"], saying: "40×30 pixels exceed the limit of 100")
        try assertFails(classify + [Self.image("missing.png")], saying: "no such file")
        try assertFails(
            ["clip", "classify", "--model", Self.model, "--image", Self.image("rgb.png"), "--labels", " , "],
            saying: "--labels has no labels")
        try assertFails(
            ["clip", "classify", "--model", "/nonexistent/model", "--image", Self.image("rgb.png"), "--labels", "a"],
            saying: "no such model directory")
        try assertFails(
            [
                "clip", "classify", "--model", Self.fixtures.appendingPathComponent("llama/gqa_untied").path,
                "--image", Self.image("rgb.png"), "--labels", "a",
            ], saying: "model_type is \"llama\"")
        try assertFails(
            ["clip", "search", "--model", Self.model, "--images", "/nonexistent", "--query", "x"],
            saying: "no such folder")
        try assertFails(["clip", "embed", "--model", Self.model], saying: "give at least one --image or --text")
    }

    func testServeRefusesBadSetupsWithOneClearError() throws {
        try assertFails(["serve", "--model", "/nonexistent/model"], saying: "no such model directory")
        try assertFails(
            ["serve", "--model", Self.fixtures.appendingPathComponent("llama/gqa_untied").path],
            saying: "no tokenizer.json")
        try assertFails(["serve", "--model", Self.model, "--quantize", "q3"], saying: "--quantize must be q8 or q4")
        try assertFails(
            ["serve", "--model", Self.model, "--max-concurrent", "0"], saying: "--max-concurrent must be at least 1")
    }
}
