import Foundation
import VLTestSupport
import XCTest
import VLModels
@testable import VLServer

/// Every kind of bad request gets an OpenAI error object with the right status, names the
/// problem, and leaves the server serving.
final class BadInputTests: XCTestCase {
    static let running = try! RunningServer(
        model: .generation(try! GenerationPipeline(directory: fixture("generate/llava"))), id: "llava"
    ) {
        $0.limits.maxBodyBytes = 1 << 20
        $0.limits.maxImagesPerRequest = 2
    }

    override class func tearDown() { running.stop() }

    var server: RunningServer { Self.running }

    func chat(_ overrides: [String: Any]) -> [String: Any] {
        ["model": "llava", "max_tokens": 3, "messages": [["role": "user", "content": "hi"]]].merging(overrides) { $1 }
    }

    func imageMessage(_ urls: [String]) -> [[String: Any]] {
        [
            [
                "role": "user",
                "content": urls.map { ["type": "image_url", "image_url": ["url": $0]] } + [
                    ["type": "text", "text": "what?"]
                ],
            ]
        ]
    }

    /// Posts `body` and checks the status, the error's code and parameter, and a phrase of its message.
    func assertRefused(
        _ body: Data, status: Int, code: String, param: String? = nil, saying text: String,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let response = try server.client.request("POST", "/v1/chat/completions", body: body)
        XCTAssertEqual(response.status, status, response.text, file: file, line: line)
        XCTAssertEqual(response.headers["content-type"], "application/json", file: file, line: line)
        let json = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
        let error = errorObject(json, file: file, line: line)
        XCTAssertEqual(error.code, code, error.message, file: file, line: line)
        if let param { XCTAssertEqual(error.param, param, file: file, line: line) }
        XCTAssertTrue(
            error.message.contains(text), "\"\(error.message)\" does not say \"\(text)\"", file: file, line: line)
        XCTAssertEqual(try server.get("/health")["status"] as? String, "ok", "still serving", file: file, line: line)
    }

    func assertRefused(
        _ object: [String: Any], status: Int = 400, code: String, param: String? = nil, saying text: String,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        try assertRefused(
            try JSONSerialization.data(withJSONObject: object), status: status, code: code, param: param, saying: text,
            file: file, line: line)
    }

    func testInvalidJSON() throws {
        try assertRefused(
            Data("{\"model\": \"llava\", \"messages\": [".utf8), status: 400, code: "invalid_json",
            saying: "not valid JSON")
    }

    func testWrongFieldTypes() throws {
        try assertRefused(chat(["max_tokens": "ten"]), code: "invalid_type", param: "max_tokens", saying: "an integer")
        try assertRefused(
            chat(["messages": [["role": "user", "content": 5]]]), code: "invalid_type", param: "messages[0].content",
            saying: "a string or a list of parts")
        try assertRefused(chat(["stream": "yes"]), code: "invalid_type", param: "stream", saying: "true or false")
        try assertRefused(chat(["messages": "hello"]), code: "invalid_type", param: "messages", saying: "expected")
        try assertRefused(
            chat(["messages": [["content": "hi"]]]), code: "missing_field", param: "messages[0].role",
            saying: "is required")
        try assertRefused(
            chat(["messages": [["role": "robot", "content": "hi"]]]), code: "invalid_value", param: "messages[0].role",
            saying: "\"robot\"")
        try assertRefused(chat(["temperature": 7]), code: "invalid_value", param: "temperature", saying: "[0, 2]")
        try assertRefused(chat(["max_tokens": 0]), code: "invalid_value", param: "max_tokens", saying: "at least 1")
    }

    func testUnknownModel() throws {
        try assertRefused(
            chat(["model": "gpt-4o"]), code: "model_not_found", param: "model", saying: "\"gpt-4o\" is not served here")
    }

    func testEmptyMessages() throws {
        try assertRefused(chat(["messages": []]), code: "invalid_value", param: "messages", saying: "messages is empty")
    }

    func testTooManyImages() throws {
        let url = try dataURL("rgb.png")
        try assertRefused(
            chat(["messages": imageMessage([url, url, url])]), code: "too_many_images", saying: "at most 2")
    }

    func testBadBase64() throws {
        try assertRefused(
            chat(["messages": imageMessage(["data:image/png;base64,@@not base64@@"])]), code: "invalid_base64",
            param: "messages[0].content[0].image_url", saying: "not valid base64")
        try assertRefused(
            chat(["messages": imageMessage(["data:image/png,rawbytes"])]), code: "invalid_value",
            saying: "data:image/…;base64")
    }

    func testDataThatIsNotAnImage() throws {
        try assertRefused(
            chat(["messages": imageMessage([try dataURL("not_an_image.jpg")])]), status: 422, code: "invalid_image",
            saying: "not a JPEG or PNG")
        try assertRefused(
            chat(["messages": imageMessage([try dataURL("truncated.png")])]), status: 422, code: "invalid_image",
            saying: "corrupt PNG")
    }

    func testImageAboveThePixelLimit() throws {
        try assertRefused(
            chat(["messages": imageMessage([try dataURL("huge.png")])]), status: 422, code: "image_too_large",
            saying: "100000×100000 pixels exceed the limit")
    }

    func testBodyAboveTheSizeLimit() throws {
        let big = String(repeating: "a", count: 1_200_000)
        try assertRefused(
            chat(["messages": [["role": "user", "content": big]]]), status: 413, code: "request_too_large",
            saying: "larger than the limit")
    }

    /// Megabytes of text are refused at once, not tokenised on the scheduler's thread.
    func testTextFarBeyondTheContextIsRefusedAtOnce() throws {
        let started = Date()
        let huge = String(repeating: "word ", count: 180_000)
        try assertRefused(
            chat(["messages": [["role": "user", "content": huge]]]), code: "context_length_exceeded", param: "messages",
            saying: "too long for the model's context")
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    func testMaxTokensBeyondTheContext() throws {
        try assertRefused(
            chat(["max_tokens": 500]), code: "context_length_exceeded", param: "max_tokens",
            saying: "exceeds the model's context of 96")
        try assertRefused(
            chat(["max_tokens": 500, "stream": true]), code: "context_length_exceeded", saying: "context of 96")
        let long = String(repeating: "a b c d ", count: 60)  // under the character bound, over 96 tokens
        try assertRefused(
            chat(["messages": [["role": "user", "content": long]]]), code: "context_length_exceeded", param: "messages",
            saying: "leaves no room")
    }

    func testRemoteAndLocalImageURLsAreRefused() throws {
        try assertRefused(
            chat(["messages": imageMessage(["https://example.com/cat.png"])]), code: "invalid_value",
            saying: "fetches nothing")
        try assertRefused(
            chat(["messages": imageMessage([fixture("images/rgb.png").path])]), code: "invalid_value",
            saying: "--allow-local-files")
    }

    func testUnknownPathsGetAnErrorObject() throws {
        let response = try server.client.request("POST", "/v1/completions", body: Data("{}".utf8))
        XCTAssertEqual(response.status, 404)
        let error = errorObject((try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:])
        XCTAssertEqual(error.code, "unknown_url")
        XCTAssertTrue(error.message.contains("/v1/chat/completions"))
        let wrongMethod = try server.client.request("GET", "/v1/chat/completions")
        XCTAssertTrue([404, 405].contains(wrongMethod.status))
        XCTAssertEqual(
            errorObject((try? JSONSerialization.jsonObject(with: wrongMethod.body)) as? [String: Any] ?? [:]).code,
            "unknown_url")
    }

    func testEmbeddingsOnAGenerativeModel() throws {
        let (status, json, _) = try server.post("/v1/embeddings", ["model": "llava", "input": "a cat"])
        XCTAssertEqual(status, 400)
        XCTAssertEqual(errorObject(json).code, "model_not_supported")
    }

    /// Malformed requests from a fixed seed, bounded in count and time, then a valid request.
    func testRandomMalformedRequestsLeaveTheServerServing() throws {
        var rng = SplitMix(seed: 2024)
        let valid = try JSONSerialization.data(
            withJSONObject: chat(["messages": imageMessage([try dataURL("rgb.png")])]))
        let deadline = Date().addingTimeInterval(60)
        var sent = 0
        let client = LoopbackClient(port: server.client.port, timeout: 10)
        for _ in 0..<150 where Date() < deadline {
            let response = try? client.raw(malformed(valid, &rng))
            if let response {
                XCTAssertTrue(
                    [200, 400, 404, 405, 413, 422, 429].contains(response.status), "status \(response.status)")
            }
            sent += 1
        }
        XCTAssertGreaterThan(sent, 50)
        let (status, json, _) = try server.post("/v1/chat/completions", chat([:]))
        XCTAssertEqual(status, 200, "\(json)")
        XCTAssertEqual((json["usage"] as? [String: Int])?["completion_tokens"], 3)
    }

    /// A request broken in one of several ways: body bytes flipped, cut or replaced; fields of the
    /// wrong type; random header lines; garbage instead of HTTP.
    func malformed(_ valid: Data, _ rng: inout SplitMix) -> Data {
        var body = [UInt8](valid)
        var head =
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n"
        switch rng.next() % 6 {
        case 0:
            for _ in 0..<(1 + rng.next() % 8) {
                body[Int(rng.next() % UInt64(body.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
        case 1: body = Array(body.prefix(Int(rng.next() % UInt64(body.count))))
        case 2:
            let fields: [String: Any] = [
                "model": 3, "messages": [["role": "user", "content": [["type": "image_url", "image_url": 7]]]],
                "temperature": "hot", "stop": [1, 2], "seed": 1.5, "n": 2, "max_tokens": -4,
            ]
            let key = Array(fields.keys)[Int(rng.next() % UInt64(fields.count))]
            body = [UInt8](try! JSONSerialization.data(withJSONObject: chat([key: fields[key]!])))
        case 3: body = (0..<(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 4: head = (0..<(1 + rng.next() % 4)).map { _ in "X-\(rng.next()): \(rng.next())\r\n" }.joined() + head
        default:
            return Data((0..<(1 + rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        }
        return Data((head + "Content-Length: \(body.count)\r\n\r\n").utf8) + Data(body)
    }
}

