import VLTensor
import VLTokenizers

extension FlamingoForConditionalGeneration: GenerativeModel {
    public var languageModel: LanguageModel { model.language_model }
    public var contextLength: Int { config.text.maxPositionEmbeddings }
    public var imageSize: (height: Int, width: Int)? { (config.vision.imageSize, config.vision.imageSize) }
    public var extraStopTokenIds: [Int] { [config.endOfChunkTokenId] }

    /// Flamingo's interleaved text: each turn's parts in order, an image as `<image>`.
    public func formatWithoutTemplate(_ conversation: [ChatMessage], eosToken: String) -> String {
        conversation.map(\.text).joined()
    }

    public func promptTokens(
        _ text: String, images: Int, tokenizer: Tokenizer, addSpecialTokens: Bool
    ) throws
        -> PromptTokens
    {
        let marker = ChatMessage.imageMarker
        let markers = text.components(separatedBy: marker).count - 1
        guard markers == images else {
            throw ModelInputError("the prompt has \(markers) \(marker) marker(s) for \(images) image(s)")
        }
        var ids = tokenizer.encode(text, addSpecialTokens: addSpecialTokens)
        if let special = tokenizer.tokenId(marker), special != config.mediaTokenId {
            ids = ids.map { $0 == special ? config.mediaTokenId : $0 }
        }
        return PromptTokens(ids: ids)
    }

    /// The cross-attention of a prompt's tokens reads its own images.
    public func promptDecoder(_ prompt: PromptTokens, pixels: Tensor?) throws -> LanguageModel? {
        try self.prompt(ids: prompt.ids, pixels: pixels)
    }
}
