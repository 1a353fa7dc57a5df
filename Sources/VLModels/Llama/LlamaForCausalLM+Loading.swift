import VLIO

extension LlamaForCausalLM: LoadableModel {
    public static var modelTypes: [String] { LlamaConfig.modelTypes }
    public static let architectures = ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"]
    public static let descriptions = [
        ModelDescription(
            modelTypes: "llama, mistral, qwen2", architecture: "LlamaForCausalLM family",
            inference: "yes (f32, bf16, q8, q4; GGUF: llama, qwen2)",
            training: "causal-LM pre-training, LoRA / adapters / prefix tuning (recipe language-model)",
            commands: "generate, chat, train, serve")
    ]

    public static func load(from directory: ModelDirectory, format: WeightFormat) throws -> LlamaForCausalLM {
        let model = try LlamaForCausalLM(LlamaConfig(directory.config))
        let tied = model.config.tieWordEmbeddings
        try loadWeights(into: model, from: directory, ignore: { tied && $0 == "lm_head.weight" }, format: format)
        if tied, format != .f32 {
            model.tiedOutput = try directory.checkpoint().quantizedMatrix("model.embed_tokens.weight")
        }
        return model
    }
}
