import ArgumentParser
import Foundation
import VLModels
import VLTensor

/// `vlkit-bench`: its own executable, so that the `vlkit` CLI does not carry the benchmark code.
/// `vlkit-bench measure-load …` is how it runs itself to measure loading in a fresh process; that
/// is not an ArgumentParser subcommand, so `--help` and the usage line stay those of the bench.
@main
enum BenchMain {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == MeasureLoad.configuration.commandName {
            MeasureLoad.main(Array(arguments.dropFirst()))
        } else {
            Bench.main(arguments)
        }
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vlkit-bench",
        abstract: "Measure VLKit's kernels and models against numpy / PyTorch run in the same invocation.")

    @Flag(help: "Print one JSON object per line instead of a table.") var json = false
    @Flag(help: "Fewer and smaller cases.") var quick = false
    @Option(help: "Only cases whose name contains this text.") var only: String?
    @Option(name: .customLong("repeat"), help: "Timed runs per case (the best counts).") var repeats = 5
    @Option(help: "The Python for the numpy peer.")
    var python = ProcessInfo.processInfo.environment["VLKIT_PYTHON"] ?? "python3"
    @Option(
        help: "The Python for the PyTorch peer (needs torch and transformers; default: the fixture venv when present).")
    var torchPython =
        ProcessInfo.processInfo.environment["VLKIT_TORCH_PYTHON"]
        ?? (FileManager.default.fileExists(atPath: "tools/fixtures/.venv/bin/python")
            ? "tools/fixtures/.venv/bin/python" : "python3")

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeat must be at least 1") }
    }

    func run() throws {
        let selected = { (c: BenchCase) in only == nil || c.name.contains(only!) }
        let wants = { (name: String) in only == nil || name.contains(only!) }
        let kernels = kernelBenchmarks(quick: quick, wants: wants).filter(selected)
        let models = try modelBenchmarks(quick: quick, wants: wants).filter(selected)
        let llms = try llmBenchmarks(quick: quick, wants: wants).filter(selected)
        let training = try trainingBenchmarks().filter(selected)
        let ggufFiles = quick ? [] : GGUFBenchFile.all(wants: wants)
        let memory = only == nil || "clip_load_memory".contains(only!)
        let llamaMemory = (only == nil && !quick) || (only.map { "llama_load_memory".contains($0) } ?? false)
        let ttft = (only == nil && !quick) || (only.map { "llava_ttft".contains($0) } ?? false)
        let serve = (only == nil && !quick) || (only.map { "serve".contains($0) } ?? false)
        guard
            !kernels.isEmpty || !models.isEmpty || !llms.isEmpty || !training.isEmpty || !ggufFiles.isEmpty || memory
                || llamaMemory || ttft || serve
        else {
            throw ValidationError("no benchmark matches --only \(only ?? "")")
        }
        // Every peer's measurements by case key, in the order the peers ran (a LLaMA case can have
        // two: PyTorch and llama.cpp).
        var peer: [String: [(Double, String)]] = [:]
        let ggufKeys = ggufFiles.flatMap { [$0.prefill, $0.decode] }.filter(wants)
        for (keys, script, python, name) in [
            (kernels.compactMap(\.peer), Peer.numpyScript, python, "numpy"),
            (models.compactMap(\.peer), Peer.torchScript, torchPython, "pytorch"),
            (llms.compactMap(\.peer), Peer.torchLLMScript, torchPython, "pytorch"),
            (llms.compactMap(\.peer) + ggufKeys, Peer.llamaCppScript, torchPython, "llama.cpp"),
            (training.compactMap(\.peer), Peer.torchTrainScript, torchPython, "pytorch"),
        ] {
            let wanted = keys
            guard !wanted.isEmpty else { continue }
            let (values, problem, status) = try Peer.run(
                script: script, python: python, cases: wanted, repeats: repeats)
            if let problem, !json {
                if name == "llama.cpp" && status == 3 {
                    print("llama.cpp peer: not available (\(problem)); install it with `\(Peer.llamaCppSetup)`")
                } else {
                    print("\(name) peer: not available (\(problem))")
                }
            }
            for (k, v) in values { peer[k, default: []].append((v, name)) }
        }
        let cases = kernels + models + llms + ggufBenchmarks(ggufFiles, wants: wants) + training
        if !llms.isEmpty {
            for d in try quantizationDrift() {
                if json {
                    printJSON([
                        "name": "llama_quantization_drift_\(d.format.rawValue)", "max_abs_logit_diff": Double(d.maxAbs),
                        "top1_agreement": d.top1,
                    ])
                } else {
                    print(
                        String(
                            format:
                                "llama_quantization_drift_%@: max |Δ logit| %.4f, top-1 agreement %.1f%% over 200 positions",
                            d.format.rawValue, d.maxAbs, d.top1 * 100))
                }
            }
        }
        if ttft {
            for format in [WeightFormat.f32, .bf16] {
                let seconds = try llavaTimeToFirstToken(format: format)
                if json {
                    printJSON([
                        "name": "llava_ttft_\(format.rawValue)", "unit": "s",
                        "vlkit": (seconds * 1000).rounded() / 1000,
                    ])
                } else {
                    print(
                        String(
                            format:
                                "llava_ttft_%@: %.2f s to the first token (ViT-L/14-336 + projector + 1.1B LLM, 596-token prompt)",
                            format.rawValue, seconds))
                }
            }
        }
        if serve {
            let (loads, alone) = try serveBenchmark(quick: quick)
            printServeLoads(loads, pipelineAlone: alone)
        }
        for dtype in llamaMemory ? [DType.bf16, .f16] : [] {
            guard let m = try loadMemory(llama: dtype) else { continue }
            if json {
                printJSON(
                    ["name": "llama_load_memory_\(dtype)"].merging(m.mapValues { "\(($0 * 10).rounded() / 10)" }) {
                        a, _ in a
                    })
            } else {
                print(
                    String(
                        format:
                            "llama_load_memory_%@: TinyLlama-shaped %@ checkpoint %.0f MB loaded with --dtype bf16 in %.2f s; "
                            + "resident %.0f MB after loading, %.0f MB after a 32-token prefill and 4 tokens (%.2f× the file; peak %.0f MB)",
                        "\(dtype)", "\(dtype)", m["file_mb"] ?? 0, m["load_seconds"] ?? 0, m["rss_after_load_mb"] ?? 0,
                        m["rss_after_forward_mb"] ?? 0, (m["rss_after_forward_mb"] ?? 0) / max(m["file_mb"] ?? 1, 1),
                        m["peak_rss_mb"] ?? 0))
            }
        }
        if memory, let m = try loadMemory() {
            if json {
                printJSON(
                    ["name": "clip_load_memory"].merging(m.mapValues { "\(($0 * 10).rounded() / 10)" }) { a, _ in a })
            } else {
                print(
                    String(
                        format:
                            "clip_load_memory: ViT-B/32 CLIP checkpoint %.0f MB; loaded in %.2f s; resident %.0f MB after loading, "
                            + "%.0f MB after a forward pass (peak %.0f MB, weights %.0f MB)", m["file_mb"] ?? 0,
                        m["load_seconds"] ?? 0,
                        m["rss_after_load_mb"] ?? 0, m["rss_after_forward_mb"] ?? 0, m["peak_rss_mb"] ?? 0,
                        m["weights_mb"] ?? 0))
            }
        }
        if !json && !cases.isEmpty {
            print("VLKit bench — \(Parallel.threadCount) threads, kernels \(String(cString: ck_isa_name()))")
            print(pad("case", 26) + pad("unit", 9) + pad("vlkit", 10) + pad("peer", 10) + pad("ratio", 8) + "peer")
        }
        for c in cases {
            let ours = c.measure(repeats: repeats)
            let matches = c.peer.flatMap { peer[$0] } ?? []
            let match = matches.first
            let theirs = match?.0
            let result = BenchResult(
                name: c.name, unit: c.unit, vlkit: ours, peer: theirs, peer_name: match?.1,
                peers: Dictionary(matches.map { ($0.1, $0.0) }) { a, _ in a })
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                print(String(data: try encoder.encode(result), encoding: .utf8)!)
            } else {
                let ratio = theirs.map { String(format: "%.2f×", ours / $0) } ?? "—"
                print(
                    pad(c.name, 26) + pad(c.unit, 9) + pad(figure(ours), 10)
                        + pad(theirs.map(figure) ?? "—", 10) + pad(ratio, 8) + (match?.1 ?? ""))
                // A second peer of the same case on its own row, under the peer columns.
                for (value, name) in matches.dropFirst() {
                    print(
                        String(repeating: " ", count: 45) + pad(figure(value), 10)
                            + pad(String(format: "%.2f×", ours / value), 8) + name)
                }
            }
        }
    }

    func printServeLoads(_ loads: [ServeLoad], pipelineAlone: Double) {
        if json {
            printJSON(["name": "serve_pipeline_alone", "unit": "tok/s", "vlkit": (pipelineAlone * 10).rounded() / 10])
        } else {
            print(
                String(
                    format:
                        "serve_pipeline_alone: %.1f tok/s (the same model and request through GenerationPipeline, no server)",
                    pipelineAlone))
        }
        let single = loads.first?.tokensPerSecond ?? 1
        for l in loads {
            if json {
                printJSON([
                    "name": "serve_clients\(l.clients)", "clients": l.clients, "requests": l.requests,
                    "tokens": l.tokens,
                    "tokens_per_second": (l.tokensPerSecond * 10).rounded() / 10,
                    "ttft_p50_s": (l.ttftP50 * 1000).rounded() / 1000,
                    "ttft_p99_s": (l.ttftP99 * 1000).rounded() / 1000, "errors": l.errors,
                ])
            } else {
                print(
                    String(
                        format:
                            "serve_clients%d: %.1f tok/s total (%.2f× one client), time to first token p50 %.3f s, p99 %.3f s, "
                            + "%d errors (%d streamed requests of 64 tokens, %.1f s; random LLaMA 8×512 f32 on 127.0.0.1)",
                        l.clients, l.tokensPerSecond, l.tokensPerSecond / single, l.ttftP50, l.ttftP99, l.errors,
                        l.requests, l.seconds))
            }
        }
    }

    /// Memory of loading a ViT-B/32-sized CLIP checkpoint (or a TinyLlama-shaped bf16 one) in a fresh process.
    func loadMemory(llama dtype: DType? = nil) throws -> [String: Double]? {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-bench-load-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        if let dtype {
            try writeTinyLlamaCheckpoint(to: dir, dtype: dtype)
        } else {
            try writeRandomCLIPCheckpoint(to: dir)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        p.arguments = ["measure-load", "--model", dir.path] + (dtype == nil ? [] : ["--llama-bf16"])
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let size =
            (try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("model.safetensors").path)[
                .size] as? Int) ?? 0
        guard var values = try JSONSerialization.jsonObject(with: data) as? [String: Double] else { return nil }
        values["file_mb"] = Double(size) / 1_048_576
        return values
    }

    /// One decimal, or three significant digits for small values.
    private func figure(_ v: Double) -> String { String(format: v < 10 ? "%.3g" : "%.1f", v) }

    private func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count)
    }
}

/// One JSON object on a line, keys sorted (as `vlkit`'s `--json` output).
func printJSON(_ object: Any) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    print(String(data: data, encoding: .utf8)!)
}
