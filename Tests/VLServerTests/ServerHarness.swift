import Foundation
import XCTest
import VLModels
@testable import VLServer

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

func fixture(_ path: String) -> URL { fixtures.appendingPathComponent(path) }

/// A data URL of a fixture image.
func dataURL(_ image: String) throws -> String {
    let data = try Data(contentsOf: fixture("images/\(image)"))
    return "data:image/\(image.hasSuffix(".png") ? "png" : "jpeg");base64,\(data.base64EncodedString())"
}

/// An in-process server on 127.0.0.1 and a free port, stopped by `stop()`.
final class RunningServer: @unchecked Sendable {
    let server: InferenceServer
    let client: LoopbackClient
    private let task: Task<Void, Error>

    init(model: ServedModel, id: String, configure: (inout ServerOptions) -> Void = { _ in }) throws {
        var options = ServerOptions()
        options.host = "127.0.0.1"
        options.port = 0
        configure(&options)
        let server = InferenceServer(model: model, modelID: id, options: options)
        let ready = DispatchSemaphore(value: 0)
        let bound = PortBox()
        task = Task {
            try await server.run { port in
                bound.port = port
                ready.signal()
            }
        }
        guard ready.wait(timeout: .now() + 30) == .success else {
            throw LoopbackClient.Failure(description: "the server did not start in 30 s")
        }
        self.server = server
        client = LoopbackClient(port: bound.port, timeout: 30)
    }

    func stop() { task.cancel() }

    /// POSTs a JSON object; returns the status and the decoded JSON answer.
    func post(
        _ path: String, _ object: Any
    ) throws -> (status: Int, json: [String: Any], response: LoopbackClient.Response) {
        let response = try client.request("POST", path, body: try JSONSerialization.data(withJSONObject: object))
        let json = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
        return (response.status, json, response)
    }

    func get(_ path: String) throws -> [String: Any] {
        let response = try client.request("GET", path)
        return (try JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
    }

    /// Waits (bounded) until `/health` satisfies `condition`.
    func waitForHealth(seconds: Double = 10, _ condition: ([String: Any]) -> Bool) throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition(try get("/health")) { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }
}

/// Runs `body` for 0..<n on n threads at once (a dispatch queue would run only as many as there are
/// cores) and returns the results in order.
func concurrently<T>(_ n: Int, _ body: @escaping (Int) -> T) -> [T?] {
    let results = ConcurrentResults<T>(n), done = DispatchGroup()
    for i in 0..<n {
        done.enter()
        Thread {
            let value = body(i)
            results.lock.lock()
            results.values[i] = value
            results.lock.unlock()
            done.leave()
        }.start()
    }
    done.wait()
    return results.values
}

final class ConcurrentResults<T>: @unchecked Sendable {
    let lock = NSLock()
    var values: [T?]
    init(_ n: Int) { values = [T?](repeating: nil, count: n) }
}

final class PortBox: @unchecked Sendable {
    var port = 0
}

/// The `data:` payloads of a server-sent event stream, in order.
func serverSentEvents(_ body: String) -> [String] {
    body.components(separatedBy: "\n\n").compactMap { event in
        event.hasPrefix("data: ") ? String(event.dropFirst(6)) : nil
    }
}

/// The message of an OpenAI error object, with its fields checked.
func errorObject(
    _ json: [String: Any], file: StaticString = #filePath, line: UInt = #line
) -> (message: String, param: String?, code: String) {
    guard let error = json["error"] as? [String: Any] else {
        XCTFail("no error object in \(json)", file: file, line: line)
        return ("", nil, "")
    }
    XCTAssertNotNil(error["type"] as? String, "error.type", file: file, line: line)
    XCTAssertTrue(error.keys.contains("param"), "error.param", file: file, line: line)
    return (error["message"] as? String ?? "", error["param"] as? String, error["code"] as? String ?? "")
}
