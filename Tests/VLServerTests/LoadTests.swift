import Foundation
import XCTest
import VLModels
@testable import VLServer

/// The bounded queue and client hang-ups, on a random LLaMA with a long context (so a request can
/// run long enough to be interrupted).
final class LoadTests: XCTestCase {
    static let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "vlkit-server-load-\(getpid())")

    override class func setUp() {
        var c = LlamaConfig()
        (c.vocabSize, c.hiddenSize, c.intermediateSize, c.numHiddenLayers) = (860, 32, 48, 2)
        (c.numAttentionHeads, c.numKeyValueHeads, c.maxPositionEmbeddings) = (4, 2, 4096)
        try! writeRandomLlamaCheckpoint(c, seed: 1, tokenizerDirectory: fixture("generate/llama"), to: directory)
    }

    override class func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func start(_ configure: (inout ServerOptions) -> Void) throws -> RunningServer {
        try RunningServer(
            model: .generation(try GenerationPipeline(directory: Self.directory)), id: "random", configure: configure)
    }

    let longRequest: [String: Any] = [
        "model": "random", "messages": [["role": "user", "content": "go"]], "max_tokens": 4000, "stream": true,
    ]

    /// A client that hangs up stops its generation: the slot is free for the next request at once.
    func testHangingUpStopsTheGenerationAndFreesTheSlot() throws {
        let server = try start { $0.maxConcurrent = 1 }
        defer { server.stop() }
        var received = 0
        _ = try server.client.request(
            "POST", "/v1/chat/completions", body: try JSONSerialization.data(withJSONObject: longRequest)
        ) { _ in
            received += 1
            return received < 3  // hang up after a few events
        }
        XCTAssertTrue(
            try server.waitForHealth { $0["cancelled"] as? Int == 1 && $0["active"] as? Int == 0 },
            "the generation stopped")
        let (status, json, _) = try server.post(
            "/v1/chat/completions",
            [
                "model": "random", "messages": [["role": "user", "content": "hi"]],
                "max_tokens": 5,
            ])
        XCTAssertEqual(status, 200, "\(json)")
        XCTAssertEqual((json["usage"] as? [String: Int])?["completion_tokens"], 5)
    }

    /// With every slot busy and the queue full, a request gets 429 with Retry-After.
    func testAFullQueueGives429WithRetryAfter() throws {
        let server = try start { ($0.maxConcurrent, $0.maxQueue) = (1, 1) }
        defer { server.stop() }
        let body = try JSONSerialization.data(withJSONObject: longRequest)
        let done = DispatchGroup()
        let rejected = Flag()  // set once the 429 below has been seen; then both clients hang up
        // One request decodes, one waits; neither finishes by itself (4000 tokens), however slow the machine.
        // The second is sent only once the first decodes: sent together, the second could find the
        // first still in the one-place queue and be turned away itself.
        for expected in [(active: 1, waiting: 0), (active: 1, waiting: 1)] {
            DispatchQueue.global().async(group: done) {
                _ = try? server.client.request("POST", "/v1/chat/completions", body: body) { _ in
                    !rejected.isSet
                }
            }
            XCTAssertTrue(
                try server.waitForHealth {
                    $0["active"] as? Int == expected.active && $0["waiting"] as? Int == expected.waiting
                },
                "\(expected.active) active, \(expected.waiting) waiting")
        }
        let (status, json, response) = try server.post("/v1/chat/completions", longRequest)
        XCTAssertEqual(status, 429)
        XCTAssertEqual(response.headers["retry-after"], "1")
        XCTAssertEqual(errorObject(json).code, "queue_full")
        rejected.set()
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        XCTAssertTrue(
            try server.waitForHealth { $0["active"] as? Int == 0 && $0["waiting"] as? Int == 0 }, "everything stopped")
    }
}

/// A flag one thread sets and others read.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
