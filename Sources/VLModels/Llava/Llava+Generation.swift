import VLFiles
import VLIO
import VLImaging
import VLTensor
import VLTokenizers

extension LlavaForConditionalGeneration: GenerativeModel {
    public var languageModel: LanguageModel { language_model }
    public var contextLength: Int { config.text.maxPositionEmbeddings }
    public var imageSize: (height: Int, width: Int)? { (config.vision.imageSize, config.vision.imageSize) }
    public var imageTokenId: Int? { config.imageTokenId }

    /// The original LLaVA layout takes its processor from the vision tower's directory (padded to a
    /// square when `image_aspect_ratio` is `pad`).
    public func imageProcessor(_ directory: ModelDirectory) throws -> ImageProcessor? {
        guard let tower = config.visionTowerDirectory else { return try directoryImageProcessor(directory) }
        var p = try ImageProcessor(directory: tower)
        p.doPad = config.padImagesToSquare
        return p
    }

    /// The original LLaVA's conversation (vicuna_v1) starts with its system prompt.
    public func formatWithoutTemplate(_ conversation: [ChatMessage], eosToken: String) -> String {
        let system = config.visionTowerDirectory == nil ? "" : LlavaConfig.vicunaSystemPrompt + " "
        return userAssistantPrompt(conversation, system: system, eosToken: eosToken)
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
