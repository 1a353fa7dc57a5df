import Foundation
import VLModels
import VLServer

/// One load level of the server benchmark.
struct ServeLoad {
    let clients: Int
    let requests: Int
    let tokens: Int
    let seconds: Double
    let ttftP50: Double
    let ttftP99: Double
    let errors: Int

    var tokensPerSecond: Double { Double(tokens) / seconds }
}

/// `vlkit serve` in this process on 127.0.0.1, with a small random LLaMA (8 layers, hidden 512,
/// f32), driven by 1, 4 and 16 concurrent streaming clients that each send `perClient` requests of
/// 64 greedy tokens: total tokens/s, time to the first token (p50, p99) and errors.
/// Also returns the tokens/s of the same requests through `GenerationPipeline` alone (no server),
/// the reference for one client.
func serveBenchmark(quick: Bool) throws -> (loads: [ServeLoad], pipelineAlone: Double) {
    let tokenizer = URL(fileURLWithPath: "Tests/Fixtures/generate/llama")
    guard FileManager.default.fileExists(atPath: tokenizer.appendingPathComponent("tokenizer.json").path) else {
        throw BenchError("the serve benchmark runs from the repository root (it uses \(tokenizer.path)/tokenizer.json)")
    }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-bench-serve-\(getpid())")
    defer { try? FileManager.default.removeItem(at: directory) }
    var c = LlamaConfig()
    (c.vocabSize, c.hiddenSize, c.intermediateSize, c.numHiddenLayers) = (860, 512, 1408, 8)
    (c.numAttentionHeads, c.numKeyValueHeads, c.maxPositionEmbeddings) = (8, 8, 512)
    try writeRandomLlamaCheckpoint(c, seed: 1, tokenizerDirectory: tokenizer, to: directory)
    let pipeline = try GenerationPipeline(directory: directory)
    let alone = bestTime(repeats: 3) {
        _ = try? pipeline.reply(
            to: [ChatMessage(role: "user", content: .text("describe a small red circle"))], images: [],
            sampling: SamplingParameters(), maxTokens: 64)
    }
    var options = ServerOptions()
    (options.host, options.port, options.maxConcurrent, options.maxQueue) = ("127.0.0.1", 0, 16, 64)
    let server = InferenceServer(model: .generation(pipeline), modelID: "random", options: options)
    let port = try start(server)
    defer { port.task.cancel() }
    let client = LoopbackClient(port: port.number, timeout: 120)
    _ = streamOneRequest(client, index: 0)  // warm-up
    return ((quick ? [1, 4] : [1, 4, 16]).map { load(client, clients: $0, perClient: quick ? 1 : 3) }, 64 / alone)
}

private func start(_ server: InferenceServer) throws -> (number: Int, task: Task<Void, Error>) {
    let ready = DispatchSemaphore(value: 0)
    let bound = BoundPort()
    let task = Task {
        try await server.run {
            bound.number = $0; ready.signal()
        }
    }
    guard ready.wait(timeout: .now() + 60) == .success else { throw BenchError("the server did not start within 60 s") }
    return (bound.number, task)
}

private final class BoundPort: @unchecked Sendable {
    var number = 0
}

/// `clients` threads, each sending `perClient` streaming requests one after another.
private func load(_ client: LoopbackClient, clients: Int, perClient: Int) -> ServeLoad {
    let collected = Collected()
    let done = DispatchGroup()
    let start = Date()
    // One thread per client (a dispatch queue would run only as many at once as there are cores).
    for i in 0..<clients {
        done.enter()
        Thread {
            for r in 0..<perClient {
                collected.add(streamOneRequest(client, index: i * perClient + r))
            }
            done.leave()
        }.start()
    }
    done.wait()
    let seconds = Date().timeIntervalSince(start)
    let results = collected.results
    let ok = results.compactMap { $0 }
    let ttfts = ok.map(\.ttft).sorted()
    func percentile(_ p: Double) -> Double {
        ttfts.isEmpty ? .nan : ttfts[Int((Double(ttfts.count - 1) * p).rounded())]
    }
    return ServeLoad(
        clients: clients, requests: results.count, tokens: ok.map(\.tokens).reduce(0, +), seconds: seconds,
        ttftP50: percentile(0.5), ttftP99: percentile(0.99), errors: results.count - ok.count)
}

/// Results of the client threads.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var results: [(tokens: Int, ttft: Double)?] = []

    func add(_ result: (tokens: Int, ttft: Double)?) {
        lock.lock()
        results.append(result)
        lock.unlock()
    }
}

/// One streamed request of 64 greedy tokens: its completion tokens and time to the first text,
/// or nil when it failed.
private func streamOneRequest(_ client: LoopbackClient, index: Int) -> (tokens: Int, ttft: Double)? {
    let body: [String: Any] = [
        "model": "random", "messages": [["role": "user", "content": "request \(index): describe a small red circle"]],
        "max_tokens": 64, "temperature": 0, "stream": true, "stream_options": ["include_usage": true],
    ]
    let sent = Date()
    var firstText: Double?
    guard
        let response = try? client.request(
            "POST", "/v1/chat/completions", body: try! JSONSerialization.data(withJSONObject: body),
            onBody: { piece in
                if firstText == nil && String(decoding: piece, as: UTF8.self).contains(#""delta":{"content":""#) {
                    firstText = Date().timeIntervalSince(sent)
                }
                return true
            }), response.status == 200, response.text.hasSuffix("data: [DONE]\n\n"), let firstText
    else { return nil }
    let usage = response.text.components(separatedBy: "\n\n").last { $0.contains(#""usage""#) }
    let tokens = usage.flatMap { event -> Int? in
        let object = try? JSONSerialization.jsonObject(with: Data(event.dropFirst(6).utf8)) as? [String: Any]
        return (object?["usage"] as? [String: Any])?["completion_tokens"] as? Int
    }
    return tokens.map { ($0, firstText) }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
