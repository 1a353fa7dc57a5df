import Foundation

/// The peer implementations, run as Python in the same invocation: numpy (OpenBLAS) for the
/// kernels, PyTorch for the models. Each script prints one JSON object {case name: value}.
enum Peer {
    static let numpyScript = #"""
import json, sys, time
import numpy as np


wanted, repeats = set(sys.argv[1].split(",")), int(sys.argv[2])
rng = np.random.default_rng(0)
out = {}
def gemm(name, m, n, k, trans_b, trans_a=False):
    if name not in wanted: return
    a = rng.standard_normal((k, m) if trans_a else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n), dtype=np.float32)
    a_ = a.T if trans_a else a
    f = (lambda: a_ @ b.T) if trans_b else (lambda: a_ @ b)
    out[name] = 2 * m * n * k / best(f, repeats) / 1e9
gemm("gemm_f32_1024", 1024, 1024, 1024, False)
gemm("gemm_f32_2048", 2048, 2048, 2048, False)
gemm("gemm_f32_50x768x3072", 50, 3072, 768, True)
gemm("gemm_f32_577x1024x4096", 577, 4096, 1024, True)
gemm("gemm_f32_train_fwd_2464x256x1024", 2464, 1024, 256, True)
gemm("gemm_f32_train_dx_2464x1024x256", 2464, 256, 1024, False)
gemm("gemm_f32_train_dw_1024x2464x256", 1024, 256, 2464, False, trans_a=True)
for name in ["gemm_bf16_1024", "gemm_bf16_2048"]:
    if name in wanted:
        s = int(name.split("_")[-1]); a = rng.standard_normal((s, s), dtype=np.float32)
        out[name] = 2 * s ** 3 / best(lambda: a @ a, repeats) / 1e9  # OpenBLAS f32 is the bar
if "gemv_f32_4096" in wanted:
    w = rng.standard_normal((4096, 4096), dtype=np.float32); x = rng.standard_normal(4096, dtype=np.float32)
    out["gemv_f32_4096"] = 4096 * 4096 * 4 / best(lambda: w @ x, repeats) / 1e9
if "memory_read_bandwidth" in wanted:
    big = rng.standard_normal(32 << 20, dtype=np.float32)
    out["memory_read_bandwidth"] = big.nbytes / best(lambda: big.sum(), repeats) / 1e9
x = rng.standard_normal((64, 4096), dtype=np.float32)
if "softmax_64x4096" in wanted:
    def softmax():
        e = np.exp(x - x.max(-1, keepdims=True)); return e / e.sum(-1, keepdims=True)
    out["softmax_64x4096"] = x.size / best(softmax, repeats) / 1e9
if "layer_norm_64x4096" in wanted:
    w1, b0 = np.ones(4096, np.float32), np.zeros(4096, np.float32)
    def ln():
        m = x.mean(-1, keepdims=True); v = x.var(-1, keepdims=True); return (x - m) / np.sqrt(v + 1e-5) * w1 + b0
    out["layer_norm_64x4096"] = x.size / best(ln, repeats) / 1e9
if "gelu_tanh_64x4096" in wanted:
    out["gelu_tanh_64x4096"] = x.size / best(lambda: 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x * x * x))), repeats) / 1e9
if "attention_577x16x64" in wanted:
    q = rng.standard_normal((16, 577, 64), dtype=np.float32)
    def attn():
        s = q @ q.transpose(0, 2, 1) * 0.125
        e = np.exp(s - s.max(-1, keepdims=True)); p = e / e.sum(-1, keepdims=True); return p @ q
    out["attention_577x16x64"] = 4 * 16 * 577 * 577 * 64 / best(attn, repeats) / 1e9
print(json.dumps(out))
"""#

    /// Best-of timing shared by the peer scripts (the same rule as `bestTime` on our side).
    static let timing = """
    import time
    def best(fn, repeats, min_seconds=0.3):
        fn()
        t, total, runs = float("inf"), 0.0, 0
        while runs < repeats or total < min_seconds:
            t0 = time.perf_counter(); fn(); d = time.perf_counter() - t0
            t, total, runs = min(t, d), total + d, runs + 1
        return t

    """

    /// Runs `script` with `python` and returns its measurements, or nil (with the reason: the last
    /// line of its stderr) when no usable Python is there. Lines the script writes to stderr as
    /// "progress: …" are shown at once (the llama.cpp peer converts models on its first run).
    static func run(script: String, python: String, cases: [String], repeats: Int) -> (values: [String: Double], note: String?, status: Int32) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-peer-\(getpid()).py")
        defer { try? FileManager.default.removeItem(at: file) }
        do { try (timing + script).write(to: file, atomically: true, encoding: .utf8) } catch { return ([:], "cannot write the peer script", -1) }
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
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Double] else {
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
