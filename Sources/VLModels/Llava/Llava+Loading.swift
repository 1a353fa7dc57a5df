import VLIO

extension LlavaForConditionalGeneration: LoadableModel {
    public static let modelTypes = ["llava", "llava_llama"]
    public static let architectures = ["LlavaForConditionalGeneration", "LlavaLlamaForCausalLM"]
    public static let descriptions = [
        ModelDescription(
            modelTypes: "llava", architecture: "LlavaForConditionalGeneration (CLIP + MLP projector + LLaMA)",
            inference: "yes",
            training: "stage 1 (projector) and stage 2 (projector + LLM or LoRA): recipes llava-stage1, llava-stage2",
            commands: "generate, chat, train, eval, serve, demo"),
        ModelDescription(
            modelTypes: "llava, llava_llama",
            architecture: "original LLaVA repository (LlavaLlamaForCausalLM, mm_projector linear or mlp2x_gelu)",
            inference: "yes (vision tower from mm_vision_tower)", training: "gradients",
            commands: "generate, chat, serve"),
    ]

    public static func load(
        from directory: ModelDirectory, format: WeightFormat
    ) throws -> LlavaForConditionalGeneration {
        let r = directory.config
        let original = LlavaConfig.isOriginalLayout(r)
        let config = original ? try LlavaConfig(original: r, directory: directory.url) : try LlavaConfig(r)
        let model = try LlavaForConditionalGeneration(config)
        guard let tower = config.visionTowerDirectory else {
            // llama.cpp's mmproj files leave out the tower's final norm, which LLaVA's features skip.
            let unused = { (name: String) in directory.gguf != nil && name.contains(".post_layernorm.") }
            try loadWeights(into: model, from: directory, keyMap: llavaKeyMap, keepInitialised: unused, format: format)
            return model
        }
        // The original LLaVA layout: the vision weights come from the tower's own checkpoint.
        try loadWeights(
            into: model.vision_tower, from: ModelDirectory(tower),
            ignore: { !$0.hasPrefix("vision_model.") || $0.hasSuffix("position_ids") }, format: format)
        try loadWeights(
            into: model, from: directory, keyMap: llavaOriginalKeyMap,
            keepInitialised: { $0.hasPrefix("vision_tower.") }, format: format)
        return model
    }
}
