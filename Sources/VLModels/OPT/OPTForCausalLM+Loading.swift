import VLIO

extension OPTForCausalLM: LoadableModel {
    public static let modelTypes = ["opt"]
    public static let architectures = ["OPTForCausalLM"]
    public static let descriptions = [
        ModelDescription(
            modelTypes: "opt", architecture: "OPTForCausalLM", inference: "yes (f32, bf16, q8, q4)",
            training: "gradients", commands: "generate, chat")
    ]

    public static func load(from directory: ModelDirectory, format: WeightFormat) throws -> OPTForCausalLM {
        let model = try OPTForCausalLM(OPTConfig(directory.config))
        // lm_head is tied to the token embeddings.
        try loadWeights(into: model, from: directory, ignore: { $0.hasSuffix("lm_head.weight") }, format: format)
        return model
    }
}
