import Foundation
import VLModels
import VLTensor

/// A GGUF file timed in VLKit and in llama.cpp: the real SmolLM2-135M-Instruct Q4_1 (scripts/test.sh
/// fetches it) and the bench's random 1.1B LLaMA as llama.cpp quantised it (Q8_0, Q4_0, Q4_K_M; the
/// llama.cpp peer writes these files into the bench cache on its first run, before ours are timed).
struct GGUFBenchFile {
    let name: String
    let path: String

    var prefill: String { name + "_prefill128" }
    var decode: String { name + "_decode64" }

    static func all(wants: (String) -> Bool) -> [GGUFBenchFile] {
        let cache = URL(
            fileURLWithPath: ProcessInfo.processInfo.environment["VLKIT_BENCH_CACHE"] ?? ".bench-cache"
        ).appendingPathComponent("llama1b-random")
        let files =
            [GGUFBenchFile(name: "gguf_smollm2", path: ".downloads/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")]
            + ["q8_0", "q4_0", "q4_k_m"].map {
                GGUFBenchFile(name: "gguf_llama1b_\($0)", path: cache.appendingPathComponent("llama1b-\($0).gguf").path)
            }
        return files.filter { wants($0.prefill) || wants($0.decode) }
    }
}

/// Prefill of 128 tokens and greedy decoding of 64 from each file that exists, in its own blocks
/// (`--dtype auto`); a file that does not load is reported and left out.
func ggufBenchmarks(_ files: [GGUFBenchFile], wants: (String) -> Bool) -> [BenchCase] {
    var cases: [BenchCase] = []
    for file in files where FileManager.default.fileExists(atPath: file.path) {
        let model: LlamaForCausalLM
        do {
            model = try LlamaForCausalLM.load(directory: URL(fileURLWithPath: file.path), format: .auto)
        } catch {
            print("\(file.name): \(file.path) does not load: \(error)")
            continue
        }
        let vocab = model.config.vocabSize
        let prompt = Tensor(ints: (0..<128).map { ($0 * 37) % vocab }, shape: [1, 128])
        if wants(file.prefill) {
            cases.append(
                BenchCase(
                    name: file.prefill, unit: "tok/s", work: 128,
                    body: {
                        _ = noGrad {
                            model.logits(
                                model.hiddenStates(
                                    model.embed(prompt), positions: Array(0..<128), cache: KVCache(), keyPadding: nil
                                ).narrow(1, start: 127, length: 1))
                        }
                    }, peer: file.prefill))
        }
        if wants(file.decode) {
            let first = noGrad { model.embed(Tensor(ints: [1], shape: [1, 1])) }
            cases.append(
                BenchCase(
                    name: file.decode, unit: "tok/s", work: 64,
                    body: {
                        _ = Generator(model: model).generate(
                            promptEmbeddings: first, sampling: SamplingParameters(),
                            stop: StopConditions(maxNewTokens: 65))
                    }, peer: file.decode))
        }
    }
    return cases
}
