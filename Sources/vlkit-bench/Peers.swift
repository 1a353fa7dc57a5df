import Foundation

/// The peer implementations, run as Python in the same invocation: numpy (OpenBLAS) for the
/// kernels, PyTorch for the models, llama.cpp for the LLaMA cases. They are the scripts in
/// tools/bench/ of the repository this was built from (found from this file's `#filePath`, read at
/// run time); each is run as `python SCRIPT CASES REPEATS` and prints one JSON object {case name: value}.
enum Peer {
    /// numpy / OpenBLAS for the kernel cases (tools/bench/numpy_peer.py).
    static let numpyScript = "numpy_peer.py"
    /// The module of best-of timing that every peer script imports (the same rule as `bestTime`).
    static let timingModule = "peer_timing.py"

    /// tools/bench/ of the source tree: three levels up from Sources/vlkit-bench/Peers.swift.
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("tools/bench")

    /// The peer script `name` in `directory`, after checking that it and the timing module it imports are there.
    static func script(_ name: String) throws -> URL {
        for file in [name, timingModule] {
            let url = directory.appendingPathComponent(file)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw BenchError(
                    "the peer script \(url.path) is missing (vlkit-bench runs its Python peers from tools/bench/ "
                        + "of the repository it was built from)")
            }
        }
        return directory.appendingPathComponent(name)
    }

    /// Runs the script `name` with `python` and returns its measurements, or nil (with the reason: the last
    /// line of its stderr) when no usable Python is there. Lines the script writes to stderr as
    /// "progress: …" are shown at once (the llama.cpp peer converts models on its first run).
    /// A missing script is an error naming its path.
    static func run(
        script name: String, python: String, cases: [String], repeats: Int
    ) throws -> (
        values: [String: Double], note: String?,
        status: Int32
    ) {
        let file = try script(name)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, file.path, cases.joined(separator: ","), String(repeats)]
        var env = ProcessInfo.processInfo.environment
        // These slow a current numpy on some CPUs (see the env notes); only the peer drops them.
        env["OPENBLAS_CORETYPE"] = nil
        env["OPENBLAS_L2_SIZE"] = nil
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch { return ([:], "\(python) not found", -1) }
        // stderr is read on its own thread, so a chatty script cannot block on a full pipe.
        let lastLine = StderrLines()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            var pending = Data()
            let handle = err.fileHandleForReading
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 10) {
                    lastLine.add(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending = Data(pending[(newline + 1)...])
                }
            }
            if !pending.isEmpty { lastLine.add(String(decoding: pending, as: UTF8.self)) }
            done.signal()
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        done.wait()
        guard process.terminationStatus == 0,
            let json = try? JSONSerialization.jsonObject(with: data) as? [String: Double]
        else {
            return ([:], "\(python): \(lastLine.last ?? "failed")", process.terminationStatus)
        }
        return (json, nil, 0)
    }
}

/// The last non-empty stderr line of a peer; "progress: …" lines are echoed to our stderr.
private final class StderrLines: @unchecked Sendable {
    private let lock = NSLock()
    private var line: String?

    func add(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return }
        if trimmed.hasPrefix("progress: ") {
            FileHandle.standardError.write(Data((String(trimmed.dropFirst("progress: ".count)) + "\n").utf8))
            return
        }
        lock.lock()
        line = trimmed
        lock.unlock()
    }

    var last: String? {
        lock.lock()
        defer { lock.unlock() }
        return line
    }
}
