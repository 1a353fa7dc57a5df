import VLFiles
import VLIO
import VLImaging
import VLNN
import VLTensor
import VLTokenizers

/// A prompt's token ids as a model reads them (image markers expanded to the model's image tokens).
public struct PromptTokens {
    public var ids: [Int]
    /// Where one image's embeddings go between `ids[..<imageOffset]` and the rest, for models that
    /// insert them instead of replacing image tokens (MiniGPT-4).
    public var imageOffset: Int?

    public init(ids: [Int], imageOffset: Int? = nil) { (self.ids, self.imageOffset) = (ids, imageOffset) }
}

/// A model that writes text: a decoder, or an image encoder and connector in front of one. What the
/// generation loop, the server and the recipes need to know of a model, so none of them switch over
/// model kinds.
public protocol GenerativeModel: LoadableModel {
    /// The decoder that produces the tokens (its KV cache, sampling, batching are generic).
    var languageModel: LanguageModel { get }
    /// Positions the model can attend to (prompt + generated tokens).
    var contextLength: Int { get }
    /// The image size (height, width) the vision tower expects; nil for text-only models.
    var imageSize: (height: Int, width: Int)? { get }
    /// The token that marks image positions in `PromptTokens.ids` (it may lie outside the vocabulary).
    var imageTokenId: Int? { get }
    /// Token ids that end an answer besides the tokenizer's and the configs' EOS.
    var extraStopTokenIds: [Int] { get }
    /// Text that ends every answer (MiniGPT-4's `###`).
    var stopStrings: [String] { get }

    /// The directory with the tokenizer, its config and the generation config (MiniGPT-4: its language model's).
    func textDirectory(_ directory: ModelDirectory) throws -> ModelDirectory
    /// The image processor for this model's images; nil for text-only models.
    func imageProcessor(_ directory: ModelDirectory) throws -> ImageProcessor?
    /// The prompt in the model's own format: used when the directory has no chat template, or always
    /// when `overridesChatTemplate` (MiniGPT-4, whose directory states its format).
    func formatWithoutTemplate(_ conversation: [ChatMessage], eosToken: String) -> String
    var overridesChatTemplate: Bool { get }
    /// Formatted text → the ids the model reads, checking the images against the markers.
    func promptTokens(_ text: String, images: Int, tokenizer: Tokenizer, addSpecialTokens: Bool) throws -> PromptTokens
    /// The decoder's input embeddings [1, L, hidden] for a prompt and its images' pixels.
    func inputEmbeddings(_ prompt: PromptTokens, pixels: Tensor?) throws -> Tensor
    /// The decoder bound to one prompt, for models whose decoder depends on the prompt's images
    /// (Flamingo's cross-attention); nil when `languageModel` decodes every prompt.
    func promptDecoder(_ prompt: PromptTokens, pixels: Tensor?) throws -> LanguageModel?
}

extension GenerativeModel {
    public var imageSize: (height: Int, width: Int)? { nil }
    public var imageTokenId: Int? { nil }
    public var extraStopTokenIds: [Int] { [] }
    public var stopStrings: [String] { [] }
    public var overridesChatTemplate: Bool { false }
    public func textDirectory(_ directory: ModelDirectory) throws -> ModelDirectory { directory }
    public func promptDecoder(_ prompt: PromptTokens, pixels: Tensor?) throws -> LanguageModel? { nil }

    /// A model with a vision tower reads the directory's image processor config (either layout).
    public func imageProcessor(_ directory: ModelDirectory) throws -> ImageProcessor? {
        imageSize == nil ? nil : try directoryImageProcessor(directory)
    }

    /// Without a template: the turns' text, one a line.
    public func formatWithoutTemplate(_ conversation: [ChatMessage], eosToken: String) -> String {
        conversation.map(\.text).joined(separator: "\n")
    }

    /// Plain tokenization for text-only models.
    public func promptTokens(
        _ text: String, images: Int, tokenizer: Tokenizer, addSpecialTokens: Bool
    ) throws
        -> PromptTokens
    {
        guard images == 0 else { throw ModelInputError("this model takes no images") }
        return PromptTokens(ids: tokenizer.encode(text, addSpecialTokens: addSpecialTokens))
    }

    public func inputEmbeddings(_ prompt: PromptTokens, pixels: Tensor?) throws -> Tensor {
        languageModel.embed(Tensor(ints: prompt.ids, shape: [1, prompt.ids.count]))
    }
}

/// The image processor a directory's config describes (`preprocessor_config.json` or nested in
/// `processor_config.json`); config.json's `model_type` picks the class when the file names none.
func directoryImageProcessor(_ directory: ModelDirectory) throws -> ImageProcessor {
    guard let config = directory.imageProcessorConfig else {
        throw ConfigError(
            "\(directory.url.path): no image processor config (preprocessor_config.json or processor_config.json)")
    }
    return try ImageProcessor(config, modelType: directory.modelType)
}

/// A model whose prompt carries `tokensPerImage` image tokens for each `<image>` marker and whose
/// image features replace those tokens' embeddings (LLaVA, mPLUG-Owl).
public protocol ImageTokenModel: GenerativeModel {
    var tokensPerImage: Int { get }
    /// The id of the image tokens (the original LLaVA's -200 lies outside the vocabulary).
    var imageToken: Int { get }
    func inputEmbeddings(ids: [Int], pixels: Tensor?) throws -> Tensor
}

extension ImageTokenModel {
    public var imageTokenId: Int? { imageToken }

    public func promptTokens(
        _ text: String, images: Int, tokenizer: Tokenizer, addSpecialTokens: Bool
    ) throws
        -> PromptTokens
    {
        PromptTokens(
            ids: try tokenizer.idsExpandingImages(
                text, images: images, tokensPerImage: tokensPerImage,
                imageTokenId: imageToken, addSpecialTokens: addSpecialTokens))
    }

    public func inputEmbeddings(_ prompt: PromptTokens, pixels: Tensor?) throws -> Tensor {
        try inputEmbeddings(ids: prompt.ids, pixels: pixels)
    }
}

/// Tokenization shared by models whose image tokens take the places of `<image>` markers (LLaVA, mPLUG-Owl).
extension Tokenizer {
    /// `text` tokenized with each `<image>` marker expanded to `tokensPerImage` image tokens.
    func idsExpandingImages(
        _ text: String, images: Int, tokensPerImage: Int, imageTokenId: Int,
        addSpecialTokens: Bool
    ) throws -> [Int] {
        let marker = ChatMessage.imageMarker
        let markers = text.components(separatedBy: marker).count - 1
        guard markers == images else {
            throw ModelInputError("the prompt has \(markers) \(marker) marker(s) for \(images) image(s)")
        }
        guard imageTokenId >= 0, let special = tokenId(marker) else {
            return idsAroundImages(
                text, imageToken: imageTokenId, count: tokensPerImage, addSpecialTokens: addSpecialTokens)
        }
        let expanded = text.replacingOccurrences(of: marker, with: String(repeating: marker, count: tokensPerImage))
        return encode(expanded, addSpecialTokens: addSpecialTokens).map { $0 == special ? imageTokenId : $0 }
    }

    /// For image tokens outside the vocabulary (the original LLaVA's) or tokenizers without `<image>`:
    /// the text between markers is tokenized piece by piece, special tokens only on the first (LLaVA's
    /// `tokenizer_image_token`), and each marker becomes `count` image tokens.
    func idsAroundImages(_ text: String, imageToken: Int, count: Int, addSpecialTokens: Bool) -> [Int] {
        let pieces = text.components(separatedBy: ChatMessage.imageMarker)
        var ids = encode(pieces[0], addSpecialTokens: addSpecialTokens)
        for piece in pieces.dropFirst() {
            ids += [Int](repeating: imageToken, count: count) + encode(piece, addSpecialTokens: false)
        }
        return ids
    }
}
