import ArgumentParser
import Foundation
import VLModels

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a LLaMA-family model (a Hugging Face directory, or a GGUF file) as a GGUF file llama.cpp runs."
    )
    @Option(help: "The output format: gguf.") var to: String
    @Option(help: "Matrix type: f32, f16, q8_0 or q4_0 (1-D tensors stay f32).") var type = "f16"
    @Flag(help: "Print {\"output\", \"bytes\", \"seconds\"}.") var json = false
    @Argument(help: "The model: a Hugging Face directory or a GGUF file.") var model: String
    @Argument(help: "The GGUF file to write.") var output: String

    func validate() throws {
        guard to == "gguf" else { throw ValidationError("--to must be gguf") }
        guard GGUFOutputType(rawValue: type) != nil else {
            throw ValidationError(
                "--type must be one of " + GGUFOutputType.allCases.map(\.rawValue).joined(separator: ", "))
        }
    }

    func run() throws {
        let start = Date()
        let directory = try ModelRegistry.open(URL(fileURLWithPath: model))
        guard try ModelRegistry.modelClass(for: directory) == LlamaForCausalLM.self else {
            throw ValidationError(
                "\(model): model_type \"\(directory.modelType)\" cannot be written to GGUF yet (llama, mistral, qwen2)")
        }
        try LlamaForCausalLM.writeGGUF(directory, to: output, type: GGUFOutputType(rawValue: type)!)
        let bytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
        let seconds = Date().timeIntervalSince(start)
        if json {
            printJSON(["output": output, "bytes": bytes, "seconds": (seconds * 100).rounded() / 100])
        } else {
            print(String(format: "wrote %@ (%@, %.1f MB) in %.1f s", output, type, Double(bytes) / 1e6, seconds))
        }
    }
}
