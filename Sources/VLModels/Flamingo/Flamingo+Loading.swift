import VLIO

extension FlamingoForConditionalGeneration: LoadableModel {
    public static let modelTypes = ["flamingo"]
    public static let descriptions = [
        ModelDescription(
            modelTypes: "flamingo",
            architecture: "Flamingo (CLIP ViT + Perceiver Resampler + gated cross-attention in a LLaMA; "
                + "OpenFlamingo's names)",
            inference: "yes: interleaved multi-image and few-shot prompts (<image> … <|endofchunk|>), "
                + "KV-cached decoding",
            training: "resampler, gated cross-attention and media-token rows; vision and LLM frozen (recipe flamingo)",
            commands: "generate, chat, train, serve")
    ]

    public static func load(
        from directory: ModelDirectory, format: WeightFormat
    ) throws -> FlamingoForConditionalGeneration {
        let model = try FlamingoForConditionalGeneration(FlamingoConfig(directory.config))
        let state = try directory.checkpoint().tensors().mapValues {
            $0.dtype == .f16 || $0.dtype == .bf16 ? $0.to(.f32) : $0
        }
        try model.load(openFlamingo: state, source: directory.url.path)
        return model
    }
}
