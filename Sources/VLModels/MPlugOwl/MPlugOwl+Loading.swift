import VLIO

extension MPlugOwlForConditionalGeneration: LoadableModel {
    public static let modelTypes = ["mplug-owl"]
    public static let descriptions = [
        ModelDescription(
            modelTypes: "mplug-owl",
            architecture: "MplugOwlForConditionalGeneration (released ViT or CLIP ViT + visual abstractor + LLaMA)",
            inference: "yes: released checkpoints' layout and prompt format",
            training: "stage 1 (vision + abstractor) and stage 2 (LoRA on the LLM): recipes mplug-owl-stage1, "
                + "mplug-owl-stage2",
            commands: "generate, chat, train, eval, serve")
    ]

    public static func load(
        from directory: ModelDirectory, format: WeightFormat
    ) throws -> MPlugOwlForConditionalGeneration {
        let model = try MPlugOwlForConditionalGeneration(MPlugOwlConfig(directory.config))
        // rotary_emb.inv_freq: saved by the transformers of 2023.
        try loadWeights(into: model, from: directory, ignore: { $0.hasSuffix("rotary_emb.inv_freq") }, format: format)
        return model
    }
}
