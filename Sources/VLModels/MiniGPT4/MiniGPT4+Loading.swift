import VLIO

extension MiniGPT4: LoadableModel {
    public static var modelTypes: [String] { [MiniGPT4Config.modelType] }
    public static let descriptions = [
        ModelDescription(
            modelTypes: "minigpt4 (config.json naming blip2/, language_model/, llama_proj.safetensors)",
            architecture: "MiniGPT4 (BLIP-2 ViT + Q-Former, one linear llama_proj, LLaMA)",
            inference: "yes: one image, MiniGPT-4's ###Human: <Img><ImageHere></Img> … ###Assistant: prompt, "
                + "stops at ###",
            training: "llama_proj alone (recipe minigpt4)", commands: "generate, chat, train, eval, serve")
    ]

    /// A MiniGPT-4 directory: its `config.json` (see `MiniGPT4Config`) and the parts it names, each
    /// loaded as its own directory.
    public static func load(from directory: ModelDirectory, format: WeightFormat) throws -> MiniGPT4 {
        let config = try MiniGPT4Config(directory.config)
        let parts = try config.parts(in: directory.url)
        let model = try assemble(blip2: parts.blip2, llama: parts.languageModel, projection: parts.projection)
        model.config = config
        return model
    }
}
