import VLFiles
import VLIO
import VLImaging
import VLTensor
import VLTokenizers

extension LlavaForConditionalGeneration: ImageTokenModel {
    public var languageModel: LanguageModel { language_model }
    public var contextLength: Int { config.text.maxPositionEmbeddings }
    public var imageSize: (height: Int, width: Int)? { (config.vision.imageSize, config.vision.imageSize) }
    public var imageToken: Int { config.imageTokenId }

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
}
