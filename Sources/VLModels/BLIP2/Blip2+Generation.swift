import VLTensor
import VLTokenizers

extension Blip2ForConditionalGeneration: GenerativeModel {
    public var languageModel: LanguageModel { language_model }
    public var contextLength: Int {
        switch config.text {
        case .opt(let c): return c.maxPositionEmbeddings
        case .llama(let c): return c.maxPositionEmbeddings
        }
    }
    public var imageSize: (height: Int, width: Int)? { (config.vision.imageSize, config.vision.imageSize) }
    public var imageTokenId: Int? { config.imageTokenId }

    /// One image per prompt; its query outputs come first, as transformers' Blip2Processor places
    /// `num_query_tokens` image tokens before the text (and its BOS).
    public func promptTokens(
        _ text: String, images: Int, tokenizer: Tokenizer, addSpecialTokens: Bool
    ) throws
        -> PromptTokens
    {
        guard images <= 1 else { throw ModelInputError("BLIP-2 takes one image per prompt") }
        var ids = tokenizer.encode(
            text.replacingOccurrences(of: ChatMessage.imageMarker, with: ""),
            addSpecialTokens: addSpecialTokens)
        if images == 1, let token = config.imageTokenId {
            ids = [Int](repeating: token, count: config.numQueryTokens) + ids
        }
        return PromptTokens(ids: ids)
    }

    public func inputEmbeddings(_ prompt: PromptTokens, pixels: Tensor?) throws -> Tensor {
        try inputEmbeddings(ids: prompt.ids, pixels: pixels)
    }
}
