import Foundation
import VLFiles
import VLImaging
import VLIO
import VLNN
import VLTemplates
import VLTensor
import VLTokenizers

/// A model directory ready for text generation: any registered `GenerativeModel` with its image
/// processor, tokenizer, chat template and stop tokens. Only the generic loop lives here; what
/// differs between models (prompt format, image tokens, where images enter the embeddings) is the
/// model's.
public final class GenerationPipeline {
    public let model: any GenerativeModel
    public let tokenizer: Tokenizer
    public let processor: ImageProcessor?
    public let stopTokenIds: Set<Int>
    /// Text that ends every answer (MiniGPT-4's `###`), besides a request's own stop strings.
    public var stopStrings: [String] { model.stopStrings }
    /// Positions the model can attend to (prompt + generated tokens).
    public var contextLength: Int { model.contextLength }
    /// Marks an image's place in a prompt.
    public static let imageMarker = ChatMessage.imageMarker
    public var imageMarker: String { Self.imageMarker }
    /// Whether the model reads images.
    public var takesImages: Bool { processor != nil }
    /// The model's chat template, when its directory has one.
    public let chatTemplate: ChatTemplate?
    /// How the chat template reads message content.
    public let templateContent: TemplateContentFormat
    let specialTokenText: [String: TemplateValue]

    /// A Hugging Face model directory or a GGUF file.
    public convenience init(
        directory: URL, format: WeightFormat = .auto, quantization: QuantizationFormat? = nil
    )
        throws
    {
        try self.init(ModelRegistry.open(directory), format: format, quantization: quantization)
    }

    public init(
        _ directory: ModelDirectory, format: WeightFormat = .auto, quantization: QuantizationFormat? = nil
    ) throws {
        guard let generative = try ModelRegistry.modelClass(for: directory) as? any GenerativeModel.Type else {
            throw ConfigError(
                "\(directory.configPath): model_type \"\(directory.modelType)\" does not generate text; "
                    + "generative models: "
                    + ModelRegistry.models.filter { $0 is any GenerativeModel.Type }
                    .flatMap { $0.modelTypes }.joined(separator: ", "))
        }
        model = try generative.load(directory, format: format)
        let text = try model.textDirectory(directory)
        tokenizer =
            try text.tokenizerJSON.map {
                try Tokenizer(tokenizerJSON: $0, tokenizerConfig: text.tokenizerConfig, file: text.url.path)
            } ?? Tokenizer(directory: text.url, tokenizerConfig: text.tokenizerConfig)
        chatTemplate = try text.chatTemplate.map { try ChatTemplate($0.text) }
        templateContent = text.chatTemplate.map { TemplateContentFormat(template: $0.text) } ?? .either
        var specials: [String: TemplateValue] = [:]
        for key in ["bos_token", "eos_token", "pad_token", "unk_token"] {
            let v = text.tokenizerConfig?[key]
            if let t = (v as? String) ?? ((v as? [String: Any])?["content"] as? String) { specials[key] = .string(t) }
        }
        specialTokenText = specials
        if let quantization { model.languageModel.quantize(quantization) }
        processor = try model.imageProcessor(directory)
        if let processor, let size = model.imageSize { try Self.check(processor, gives: size, directory: directory) }
        var stops = Set<Int>(model.extraStopTokenIds)
        if let ids = try text.generationConfig?.ints("eos_token_id") { stops.formUnion(ids) }
        if let ids = try (directory.config.sub("text_config") ?? directory.config).ints("eos_token_id") {
            stops.formUnion(ids)
        }
        if let eos = tokenizer.eosTokenId { stops.insert(eos) }
        stopTokenIds = stops
    }

    /// A processor whose fixed output size is not the vision tower's image size would give a patch
    /// grid the position embeddings do not cover (transformers refuses such input too).
    static func check(
        _ processor: ImageProcessor, gives size: (height: Int, width: Int), directory: ModelDirectory
    ) throws {
        guard let out = processor.fixedOutputSize, out.height != size.height || out.width != size.width else { return }
        throw ConfigError(
            "\(directory.url.path): the image processor makes \(out.height)×\(out.width) images, but the "
                + "vision tower's image_size is \(size.height)×\(size.width) (config.json); make them agree")
    }

    /// A continuous-batching decoder over this model's language model.
    public func makeBatchDecoder() -> BatchDecoder { BatchDecoder(model: model.languageModel) }

    /// The model a prompt must decode with outside a `BatchDecoder`'s batch (Flamingo's, bound to the
    /// prompt's images); nil when the shared language model decodes it.
    public func soloDecoder(ids: [Int], images: [RGBImage]) throws -> LanguageModel? {
        try model.promptDecoder(PromptTokens(ids: ids), pixels: pixels(images))
    }

    /// A conversation as the model sees it (with the generation prompt for the next assistant turn)
    /// and whether the tokenizer should still add its special tokens. A chat template gets each
    /// message's content as a string or as a list of `{"type": "text", "text"}` and `{"type": "image"}`
    /// parts, as transformers' `apply_chat_template` does — in the form the template reads
    /// (`TemplateContentFormat`).
    public func format(conversation: [ChatMessage]) throws -> (text: String, addSpecialTokens: Bool) {
        let eos = specialTokenText["eos_token"]?.text ?? ""
        guard let chatTemplate, !model.overridesChatTemplate else {
            return (model.formatWithoutTemplate(conversation, eosToken: eos), true)
        }
        var variables = specialTokenText
        variables["messages"] = .list(conversation.map { Self.templateMessage($0, templateContent.content(of: $0)) })
        variables["add_generation_prompt"] = .bool(true)
        let text = try chatTemplate.render(variables)
        // Templates that write the BOS token themselves must not get a second one.
        let bos = specialTokenText["bos_token"]?.text ?? ""
        return (text, bos.isEmpty || !text.hasPrefix(bos))
    }

    static func templateMessage(_ m: ChatMessage, _ given: ChatMessage.Content) -> TemplateValue {
        let content: TemplateValue
        switch given {
        case .text(let t): content = .string(t)
        case .parts(let parts):
            content = .list(
                parts.map { part in
                    switch part {
                    case .text(let t): return .object([("type", .string("text")), ("text", .string(t))])
                    case .image: return .object([("type", .string("image"))])
                    }
                })
        }
        return .object([("role", .string(m.role)), ("content", content)])
    }

    /// The prompt as a model sees it and whether the tokenizer should still add its special tokens:
    /// `raw` text as it is, or one user turn (its images as parts before the text unless the text
    /// places them with `<image>` markers) through the chat template or the model's own format.
    public func format(_ prompt: String, images: Int, raw: Bool) throws -> (text: String, addSpecialTokens: Bool) {
        if raw { return (prompt, true) }
        return try format(conversation: [
            ChatMessage.turn(role: "user", text: prompt, images: images, asParts: takesImages)
        ])
    }

    /// Token ids (image markers expanded to the model's image tokens) and input embeddings.
    public func prepare(
        prompt: String, images: [RGBImage], raw: Bool = false
    ) throws -> (ids: [Int], embeddings: Tensor) {
        try prepare(formatted: format(prompt, images: images.count, raw: raw), images: images)
    }

    /// Token ids and embeddings of already formatted text. A prompt of more than `maxTokens`
    /// tokens is refused (`PromptTooLongError`) before any embedding is computed.
    public func prepare(
        formatted: (text: String, addSpecialTokens: Bool), images: [RGBImage],
        maxTokens: Int = .max
    ) throws -> (ids: [Int], embeddings: Tensor) {
        let prompt = try promptTokens(formatted, images: images)
        guard prompt.ids.count <= maxTokens else {
            throw PromptTooLongError(tokens: prompt.ids.count, limit: maxTokens)
        }
        let pixels = try pixels(images)
        return (prompt.ids, try noGrad { try model.inputEmbeddings(prompt, pixels: pixels) })
    }

    func promptTokens(_ formatted: (text: String, addSpecialTokens: Bool), images: [RGBImage]) throws -> PromptTokens {
        guard images.isEmpty || processor != nil else { throw ModelInputError("this model takes no images") }
        let prompt = try model.promptTokens(
            formatted.text, images: images.count, tokenizer: tokenizer,
            addSpecialTokens: formatted.addSpecialTokens)
        let vocab = model.languageModel.vocabSize
        if let bad = prompt.ids.first(where: { ($0 < 0 || $0 >= vocab) && $0 != model.imageTokenId }) {
            throw ModelInputError(
                "token id \(bad) is outside the model's vocabulary of \(vocab) (tokenizer and model do not match)")
        }
        return prompt
    }

    /// The images through the processor, [I, 3, H, W]; each must come out at the vision tower's size.
    func pixels(_ images: [RGBImage]) throws -> Tensor? {
        guard !images.isEmpty else { return nil }
        guard let processor else { throw ModelInputError("this model takes no images") }
        let pixels = processor.batch(images)
        if let size = model.imageSize, pixels.shape[2] != size.height || pixels.shape[3] != size.width {
            throw ModelInputError(
                "the image processor made a \(pixels.shape[2])×\(pixels.shape[3]) image; the vision "
                    + "tower takes \(size.height)×\(size.width)")
        }
        return pixels
    }

    public struct Result {
        public let tokens: [Int]
        public let text: String
        public let finishReason: FinishReason
        public let promptTokens: Int
    }

    /// Generates after the prompt; `onText` receives decoded pieces as they complete and returns
    /// false to stop.
    public func generate(
        prompt: String, images: [RGBImage] = [], raw: Bool = false, sampling: SamplingParameters,
        maxTokens: Int, stopStrings: [String] = [], onText: (String) -> Bool = { _ in true }
    ) throws -> Result {
        try generate(
            formatted: raw ? (prompt, true) : format(prompt, images: images.count, raw: false), images: images,
            sampling: sampling, maxTokens: maxTokens, stopStrings: stopStrings, onText: onText)
    }

    /// The next assistant turn of a conversation; `images` are all the conversation's images in order.
    public func reply(
        to conversation: [ChatMessage], images: [RGBImage], sampling: SamplingParameters, maxTokens: Int,
        onText: (String) -> Bool = { _ in true }
    ) throws -> Result {
        try generate(
            formatted: format(conversation: conversation), images: images, sampling: sampling, maxTokens: maxTokens,
            onText: onText)
    }

    /// Generation after formatted text. With stop strings, text is held back while it could be the
    /// start of one, and generation ends where one appears (the stop string is not returned).
    func generate(
        formatted: (text: String, addSpecialTokens: Bool), images: [RGBImage], sampling: SamplingParameters,
        maxTokens: Int, stopStrings: [String] = [], onText: (String) -> Bool
    ) throws -> Result {
        let prompt = try promptTokens(formatted, images: images)
        let pixels = try pixels(images)
        let embeddings = try noGrad { try model.inputEmbeddings(prompt, pixels: pixels) }
        let ids = prompt.ids
        let length = embeddings.shape[1]
        guard length + maxTokens <= contextLength else {
            throw ModelInputError(
                "the prompt has \(length) tokens; with \(maxTokens) new ones that exceeds the model's context of \(contextLength)"
            )
        }
        let stopStrings = stopStrings + self.stopStrings
        var text = GeneratedText(tokenizer: tokenizer, stopStrings: stopStrings)
        var (tokens, reason) = Generator(model: try model.promptDecoder(prompt, pixels: pixels) ?? model.languageModel)
            .generate(
                promptEmbeddings: embeddings, promptIds: ids, sampling: sampling,
                stop: StopConditions(maxNewTokens: maxTokens, stopTokenIds: stopTokenIds)
            ) { token in
                let (piece, stopped) = text.push(token)
                if !piece.isEmpty { _ = onText(piece) }
                return !stopped
            }
        if text.stopped {
            reason = .stopToken
        } else {
            let rest = text.finish()
            if !rest.isEmpty { _ = onText(rest) }
        }
        let output = stopStrings.isEmpty ? tokenizer.decode(tokens, skipSpecialTokens: true) : text.text
        return Result(tokens: tokens, text: output, finishReason: reason, promptTokens: length)
    }
}

/// A prompt longer than its caller allows (e.g. the model's context).
public struct PromptTooLongError: Error, CustomStringConvertible {
    public let tokens: Int
    public let limit: Int
    public var description: String { "the prompt has \(tokens) tokens, more than the \(limit) allowed" }
}
