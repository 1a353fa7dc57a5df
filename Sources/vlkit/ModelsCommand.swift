import ArgumentParser
import VLModels

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The architectures VLKit runs, and what each can do.")
    @Flag(help: "Print JSON.") var json = false

    func run() {
        let rows = ModelRegistry.models.flatMap { $0.descriptions }
        if json {
            printJSON(
                rows.map {
                    [
                        "model_type": $0.modelTypes, "architecture": $0.architecture, "inference": $0.inference,
                        "training": $0.training, "commands": $0.commands,
                    ]
                })
            return
        }
        for r in rows {
            let commands = r.commands.isEmpty ? "library API, no command yet" : "vlkit \(r.commands)"
            print(
                "\(r.modelTypes)\n  \(r.architecture)\n  inference: \(r.inference); training: \(r.training); \(commands)"
            )
        }
        print(
            "Checkpoints: Hugging Face directories (config.json, model.safetensors or a sharded index, f32/f16/bf16).")
        print(
            "GGUF files (llama.cpp): architectures \(ModelRegistry.ggufArchitectures.joined(separator: ", ")); "
                + "F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K…Q6_K tensors (vlkit info FILE.gguf shows one).")
    }
}
