import VLIO
import VLImaging
import VLTensor
import VLTokenizers

extension MiniGPT4: GenerativeModel {
    public var languageModel: LanguageModel { language_model }
    public var contextLength: Int { language_model.config.maxPositionEmbeddings }
    public var imageSize: (height: Int, width: Int)? { (vision_model.config.imageSize, vision_model.config.imageSize) }
    public var stopStrings: [String] { [config.stop] }
    /// MiniGPT-4's format is its directory's, whatever its language model's tokenizer says.
    public var overridesChatTemplate: Bool { true }

    public func textDirectory(_ directory: ModelDirectory) throws -> ModelDirectory {
        try ModelDirectory(config.parts(in: directory.url).languageModel)
    }

    public func imageProcessor(_ directory: ModelDirectory) throws -> ImageProcessor? {
        try ImageProcessor(directory: config.parts(in: directory.url).blip2)
    }

    /// Each user turn in the prompt template (the image prompt where the turn's image goes: at its
    /// `<image>` marker, or before its text), each answer after it.
    public func formatWithoutTemplate(_ conversation: [ChatMessage], eosToken: String) -> String {
        conversation.map { m in
            if m.role == "assistant" { return m.text }
            if m.hasMarkers {
                return config.userTurn(
                    m.text.replacingOccurrences(of: ChatMessage.imageMarker, with: config.imagePrompt),
                    hasImage: false)
            }
            return config.userTurn(m.textOnly, hasImage: m.imageCount > 0)
        }.joined(separator: " ")
    }

    /// Tokenized as the paper does: the text before `<ImageHere>` (with the special tokens) and after it.
    public func promptTokens(
        _ text: String, images: Int, tokenizer: Tokenizer, addSpecialTokens: Bool
    ) throws
        -> PromptTokens
    {
        let pieces = text.components(separatedBy: MiniGPT4.imagePlaceholder)
        guard images <= 1, pieces.count - 1 == images else {
            throw ModelInputError(
                "MiniGPT-4 takes at most one image; the prompt has \(pieces.count - 1) "
                    + "\(MiniGPT4.imagePlaceholder) for \(images) image(s)")
        }
        let before = tokenizer.encode(pieces[0], addSpecialTokens: addSpecialTokens)
        let after = pieces.count == 2 ? tokenizer.encode(pieces[1], addSpecialTokens: false) : []
        return PromptTokens(ids: before + after, imageOffset: images == 1 ? before.count : nil)
    }

    public func inputEmbeddings(_ prompt: PromptTokens, pixels: Tensor?) throws -> Tensor {
        guard let pixels, let offset = prompt.imageOffset else {
            return language_model.embed(Tensor(ints: prompt.ids, shape: [1, prompt.ids.count]))
        }
        return inputEmbeddings(
            before: Array(prompt.ids[..<offset]), pixels: pixels, after: Array(prompt.ids[offset...]))
    }
}
