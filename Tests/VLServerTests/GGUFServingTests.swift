import Foundation
import VLImaging
import VLModels
import XCTest

@testable import VLServer

/// `vlkit serve --model FILE.gguf [--mmproj MMPROJ.gguf]`: llama.cpp's files served over HTTP answer as
/// the pipeline does for the same prompt.
final class GGUFServingTests: XCTestCase {
    func answer(_ served: ServedModel, _ content: Any) throws -> String? {
        let server = try RunningServer(model: served, id: "m")
        defer { server.stop() }
        let body: [String: Any] = [
            "model": "m", "messages": [["role": "user", "content": content]], "max_tokens": 6, "temperature": 0,
        ]
        let (status, json, _) = try server.post("/v1/chat/completions", body)
        XCTAssertEqual(status, 200, "\(json)")
        return ((json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
    }

    func testATextModelFile() throws {
        let file = fixture("gguf_models/llama_spm_f32/model.gguf")
        let served = try ServedModel.load(directory: file, quantization: nil)
        guard case .generation(let pipeline) = served else { return XCTFail("not a generative model") }
        let expected = try pipeline.generate(prompt: "Hello there", sampling: SamplingParameters(), maxTokens: 6).text
        XCTAssertEqual(try answer(served, "Hello there"), expected)
    }

    func testALlavaFromAModelAndItsMmproj() throws {
        let pair = fixture("gguf_models/llava_pair")
        let served = try ServedModel.load(
            directory: pair.appendingPathComponent("model.gguf"), mmproj: pair.appendingPathComponent("mmproj.gguf"),
            quantization: nil)
        guard case .generation(let pipeline) = served else { return XCTFail("not a generative model") }
        XCTAssertTrue(pipeline.takesImages)
        let image = try RGBImage(contentsOf: fixture("layouts/image.png"))
        let expected = try pipeline.generate(
            prompt: "What is in the image?", images: [image], sampling: SamplingParameters(), maxTokens: 6
        ).text
        let content: [[String: Any]] = [
            [
                "type": "image_url",
                "image_url": [
                    "url": "data:image/png;base64,"
                        + (try Data(contentsOf: fixture("layouts/image.png"))).base64EncodedString()
                ],
            ],
            ["type": "text", "text": "What is in the image?"],
        ]
        XCTAssertEqual(try answer(served, content), expected)
    }
}
