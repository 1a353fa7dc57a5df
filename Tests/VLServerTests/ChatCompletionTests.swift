import Foundation
import XCTest
import VLImaging
import VLModels
@testable import VLServer

/// Chat completions over HTTP give what `vlkit generate` gives for the same prompt, image and seed.
final class ChatCompletionTests: XCTestCase {
    static let llavaDirectory = fixture("generate/llava")
    static let reference = try! GenerationPipeline(directory: llavaDirectory)
    static let running = try! RunningServer(
        model: .generation(try! GenerationPipeline(directory: llavaDirectory)), id: "llava")

    override class func tearDown() { running.stop() }

    var server: RunningServer { Self.running }

    func userTurn(_ text: String, image: String? = "rgb.png") throws -> [[String: Any]] {
        var parts: [[String: Any]] = []
        if let image { parts.append(["type": "image_url", "image_url": ["url": try dataURL(image)]]) }
        parts.append(["type": "text", "text": text])
        return [["role": "user", "content": parts]]
    }

    func expected(
        _ prompt: String, image: String? = "rgb.png", sampling: SamplingParameters, maxTokens: Int,
        stop: [String] = []
    ) throws -> GenerationPipeline.Result {
        let images = try image.map { [try RGBImage(contentsOf: fixture("images/\($0)"))] } ?? []
        return try Self.reference.generate(
            prompt: prompt, images: images, sampling: sampling, maxTokens: maxTokens, stopStrings: stop)
    }

    func testHealthAndModelList() throws {
        XCTAssertEqual(try server.get("/health")["status"] as? String, "ok")
        let models = try server.get("/v1/models")
        XCTAssertEqual(models["object"] as? String, "list")
        XCTAssertEqual((models["data"] as? [[String: Any]])?.first?["id"] as? String, "llava")
    }

    func testGreedyCompletionWithAnImageMatchesGenerate() throws {
        let (status, json, _) = try server.post(
            "/v1/chat/completions",
            [
                "model": "llava", "messages": try userTurn("What is in the image?"), "temperature": 0, "max_tokens": 12,
            ])
        XCTAssertEqual(status, 200, "\(json)")
        let want = try expected("What is in the image?", sampling: SamplingParameters(), maxTokens: 12)
        let choice = (json["choices"] as? [[String: Any]])?.first
        XCTAssertEqual((choice?["message"] as? [String: Any])?["content"] as? String, want.text)
        XCTAssertEqual(choice?["finish_reason"] as? String, want.finishReason == .length ? "length" : "stop")
        let usage = json["usage"] as? [String: Int]
        XCTAssertEqual(usage?["prompt_tokens"], want.promptTokens, "prompt tokens count the image's tokens")
        XCTAssertEqual(usage?["completion_tokens"], want.tokens.count)
        XCTAssertEqual(usage?["total_tokens"], want.promptTokens + want.tokens.count)
        XCTAssertEqual(json["object"] as? String, "chat.completion")
    }

    func testStreamedChunksAddUpToTheSeededAnswer() throws {
        let sampling = SamplingParameters(temperature: 0.9, topP: 0.95, seed: 5)
        let response = try server.client.request(
            "POST", "/v1/chat/completions",
            body: try JSONSerialization.data(withJSONObject: [
                "model": "llava", "messages": try userTurn("Describe it."), "temperature": 0.9, "top_p": 0.95,
                "seed": 5, "max_tokens": 20,
                "stream": true, "stream_options": ["include_usage": true],
            ]))
        XCTAssertEqual(response.status, 200, response.text)
        XCTAssertEqual(response.headers["content-type"], "text/event-stream")
        let events = serverSentEvents(response.text)
        XCTAssertEqual(events.last, "[DONE]")
        let chunks = events.dropLast().map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let deltas = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first }
        let text = deltas.compactMap { ($0["delta"] as? [String: Any])?["content"] as? String }.joined()
        let want = try expected("Describe it.", sampling: sampling, maxTokens: 20)
        XCTAssertEqual(text, want.text)
        XCTAssertEqual((deltas.first?["delta"] as? [String: Any])?["role"] as? String, "assistant")
        XCTAssertNotNil(deltas.last?["finish_reason"] as? String)
        XCTAssertEqual((chunks.last?["usage"] as? [String: Int])?["completion_tokens"], want.tokens.count)
        XCTAssertTrue(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
    }

    func testStopStringsEndTheAnswer() throws {
        let full = try expected("What is in the image?", sampling: SamplingParameters(), maxTokens: 20)
        let stop = String(full.text.dropFirst(full.text.count / 2).prefix(3))
        let cut = try expected("What is in the image?", sampling: SamplingParameters(), maxTokens: 20, stop: [stop])
        let (status, json, _) = try server.post(
            "/v1/chat/completions",
            [
                "model": "llava", "messages": try userTurn("What is in the image?"), "temperature": 0, "max_tokens": 20,
                "stop": stop,
            ])
        XCTAssertEqual(status, 200)
        let choice = (json["choices"] as? [[String: Any]])?.first
        XCTAssertEqual((choice?["message"] as? [String: Any])?["content"] as? String, cut.text)
        XCTAssertEqual(choice?["finish_reason"] as? String, "stop")
    }

    /// Concurrent requests are batched together and each still gets its own answer.
    func testConcurrentRequestsGetTheAnswersTheyGetAlone() throws {
        let prompts = (0..<6).map { "Question number \($0)?" }
        let answers = concurrently(prompts.count) { i -> String? in
            let reply = try? self.server.post(
                "/v1/chat/completions",
                [
                    "model": "llava", "messages": try! self.userTurn(prompts[i], image: i % 2 == 0 ? "rgb.png" : nil),
                    "temperature": 1, "seed": i, "max_tokens": 8 + i,
                ])
            return ((reply?.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"]
                as? String
        }
        for (i, prompt) in prompts.enumerated() {
            let want = try expected(
                prompt, image: i % 2 == 0 ? "rgb.png" : nil,
                sampling: SamplingParameters(temperature: 1, seed: UInt64(i)),
                maxTokens: 8 + i)
            XCTAssertEqual(answers[i] ?? nil, want.text, "request \(i)")
        }
    }

    func testAStringContentAndAConversationWork() throws {
        let (status, json, _) = try server.post(
            "/v1/chat/completions",
            [
                "model": "llava", "max_tokens": 4,
                "messages": [
                    ["role": "system", "content": "Be brief."], ["role": "user", "content": "Hello"],
                    ["role": "assistant", "content": "Hi."], ["role": "user", "content": "And now?"],
                ],
            ])
        XCTAssertEqual(status, 200, "\(json)")
        XCTAssertEqual((json["usage"] as? [String: Int])?["completion_tokens"], 4)
    }
}
