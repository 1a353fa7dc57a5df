import VLFiles
import VLIO
import VLImaging
import VLTensor
import VLTokenizers

extension MPlugOwlForConditionalGeneration: GenerativeModel {
    public var languageModel: LanguageModel { language_model }
    public var contextLength: Int { config.text.maxPositionEmbeddings }
    public var imageSize: (height: Int, width: Int)? { (config.vision.imageSize, config.vision.imageSize) }
    public var imageTokenId: Int? { config.imageTokenId }

    /// The released MplugOwlProcessor first resizes every image to a square of the shortest edge.
    public func imageProcessor(_ directory: ModelDirectory) throws -> ImageProcessor? {
        var p = try directoryImageProcessor(directory)
        if config.visionTower == .mplugOwl, case .shortestEdge(let edge) = p.size {
            (p.size, p.resample) = (.exact(height: edge, width: edge), .bicubic)
        }
        return p
    }

    /// The released checkpoints' conversation: a system line, "Human: <image>" per image, "Human: …"
    /// and "AI: …" turns, ending with "AI: "; recipe-built ones (CLIP tower) use USER/ASSISTANT.
    public func formatWithoutTemplate(_ conversation: [ChatMessage], eosToken: String) -> String {
        guard config.visionTower == .mplugOwl else { return userAssistantPrompt(conversation, system: "", eosToken: eosToken) }
        let lines = conversation.flatMap { m -> [String] in
            if m.role == "assistant" { return ["AI: \(m.text)"] }
            if m.hasMarkers { return ["Human: \(m.text)"] }
            return [String](repeating: "Human: \(ChatMessage.imageMarker)", count: m.imageCount) + ["Human: \(m.textOnly)"]
        }
        return ([MPlugOwlConfig.systemPrompt] + lines + ["AI: "]).joined(separator: "\n")
    }

    public func promptTokens(_ text: String, images: Int, tokenizer: Tokenizer, addSpecialTokens: Bool) throws
        -> PromptTokens
    {
        PromptTokens(ids: try tokenizer.idsExpandingImages(text, images: images, tokensPerImage: tokensPerImage,
                                                           imageTokenId: config.imageTokenId,
                                                           addSpecialTokens: addSpecialTokens))
    }

    public func inputEmbeddings(_ prompt: PromptTokens, pixels: Tensor?) throws -> Tensor {
        try inputEmbeddings(ids: prompt.ids, pixels: pixels)
    }
}
