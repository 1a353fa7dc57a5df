import Foundation
import VLFiles
import VLImaging
import VLIO
import VLNN
import VLTemplates
import VLTensor
import VLTokenizers

/// A model directory ready for text generation: a LLaMA-family or OPT decoder, or a LLaVA,
/// BLIP-2, Flamingo, mPLUG-Owl or MiniGPT-4 assembly with its image processor, and the tokenizer
/// from `tokenizer.json` (MiniGPT-4's: its language model's).
public final class GenerationPipeline {
    enum Kind {
        case text(LanguageModel)
        case llava(LlavaForConditionalGeneration)
        case blip2(Blip2ForConditionalGeneration)
        case flamingo(FlamingoForConditionalGeneration)
        case mplugOwl(MPlugOwlForConditionalGeneration)
        case minigpt4(MiniGPT4)
    }

    let kind: Kind
    public let tokenizer: Tokenizer
    public let processor: ImageProcessor?
    public let stopTokenIds: Set<Int>
    /// Text that ends every answer (MiniGPT-4's `###`), besides a request's own stop strings.
    public let stopStrings: [String]
    /// Positions the model can attend to (prompt + generated tokens).
    public let contextLength: Int
    /// Marks an image's place in a prompt.
    public static let imageMarker = "<image>"
    public var imageMarker: String { Self.imageMarker }
    /// The model's chat template, when its directory has one.
    public let chatTemplate: ChatTemplate?
    let specialTokenText: [String: TemplateValue]

    public init(directory: URL, format: WeightFormat = .f32, quantization: QuantizationFormat? = nil) throws {
        let model = try loadModel(directory: directory, only: ["llama", "mistral", "qwen2", "opt", "llava", "llava_llama", "blip-2", "flamingo",
                                                               "mplug-owl", MiniGPT4Config.modelType], format: format)
        let config = try ConfigReader(contentsOf: directory.appendingPathComponent("config.json"))
        switch model {
        case .llama(let m): kind = .text(m); contextLength = m.config.maxPositionEmbeddings
        case .opt(let m): kind = .text(m); contextLength = m.config.maxPositionEmbeddings
        case .llava(let m): kind = .llava(m); contextLength = m.config.text.maxPositionEmbeddings
        case .mplugOwl(let m): kind = .mplugOwl(m); contextLength = m.config.text.maxPositionEmbeddings
        case .blip2(let m):
            kind = .blip2(m)
            switch m.config.text {
            case .opt(let c): contextLength = c.maxPositionEmbeddings
            case .llama(let c): contextLength = c.maxPositionEmbeddings
            }
        case .flamingo(let m): kind = .flamingo(m); contextLength = m.config.text.maxPositionEmbeddings
        case .minigpt4(let m): kind = .minigpt4(m); contextLength = m.language_model.config.maxPositionEmbeddings
        default: throw ConfigError("\(directory.path): not a generative model")
        }
        let parts = try Self.partDirectories(kind, in: directory)
        tokenizer = try Tokenizer(directory: parts.text)
        chatTemplate = try ChatTemplate.source(in: parts.text).map { try ChatTemplate($0) }
        let tokenizerConfig = (try? JSONSerialization.jsonObject(with: Data(contentsOf: parts.text.appendingPathComponent("tokenizer_config.json")))
            as? [String: Any]) ?? [:]
        var specials: [String: TemplateValue] = [:]
        for key in ["bos_token", "eos_token", "pad_token", "unk_token"] {
            let v = tokenizerConfig[key]
            if let text = (v as? String) ?? ((v as? [String: Any])?["content"] as? String) { specials[key] = .string(text) }
        }
        specialTokenText = specials
        if let quantization {
            switch kind {
            case .text(let m): m.quantize(quantization)
            case .llava(let m): m.language_model.quantize(quantization)
            case .blip2(let m): m.language_model.quantize(quantization)
            case .flamingo(let m): m.model.language_model.quantize(quantization)
            case .mplugOwl(let m): m.language_model.quantize(quantization)
            case .minigpt4(let m): m.language_model.quantize(quantization)
            }
        }
        switch kind {
        case .text: processor = nil
        case .llava(let m) where m.config.visionTowerDirectory != nil:
            var p = try ImageProcessor(directory: m.config.visionTowerDirectory!)
            p.doPad = m.config.padImagesToSquare
            processor = p
        case .mplugOwl(let m) where m.config.visionTower == .mplugOwl:
            // The released MplugOwlProcessor first resizes every image to a square of the shortest edge.
            var p = try ImageProcessor(directory: directory)
            if case .shortestEdge(let edge) = p.size { (p.size, p.resample) = (.exact(height: edge, width: edge), .bicubic) }
            processor = p
        default: processor = try ImageProcessor(directory: parts.vision)
        }
        var stops = Set<Int>()
        let generationConfig = parts.text.appendingPathComponent("generation_config.json")
        if let g = try? ConfigReader(contentsOf: generationConfig), let ids = try g.ints("eos_token_id") { stops.formUnion(ids) }
        let textConfig = try config.sub("text_config") ?? config
        if let ids = try textConfig.ints("eos_token_id") { stops.formUnion(ids) }
        if let eos = tokenizer.eosTokenId { stops.insert(eos) }
        if case .flamingo(let m) = kind { stops.insert(m.config.endOfChunkTokenId) }
        stopTokenIds = stops
        if case .minigpt4(let m) = kind { stopStrings = [m.config.stop] } else { stopStrings = [] }
    }

    /// Where the tokenizer (with the generation config) and the image processor are: the directory
    /// itself, or for MiniGPT-4 its language model's and its BLIP-2 part's directories.
    static func partDirectories(_ kind: Kind, in directory: URL) throws -> (text: URL, vision: URL) {
        guard case .minigpt4(let m) = kind else { return (directory, directory) }
        let parts = try m.config.parts(in: directory)
        return (parts.languageModel, parts.blip2)
    }

    /// A continuous-batching decoder over this model's language model.
    public func makeBatchDecoder() -> BatchDecoder { BatchDecoder(model: languageModel) }

    var languageModel: LanguageModel {
        switch kind {
        case .text(let m): return m
        case .llava(let m): return m.language_model
        case .blip2(let m): return m.language_model
        case .flamingo(let m): return m.model.language_model
        case .mplugOwl(let m): return m.language_model
        case .minigpt4(let m): return m.language_model
        }
    }

    /// What decodes a prompt: the language model, or for Flamingo the model bound to the prompt's images.
    func decoder(ids: [Int], images: [RGBImage]) throws -> LanguageModel {
        try soloDecoder(ids: ids, images: images) ?? languageModel
    }

    /// The model a prompt must decode with outside a `BatchDecoder`'s batch: for Flamingo the model
    /// bound to the prompt's images (its cross-attention differs per prompt); nil for other models.
    public func soloDecoder(ids: [Int], images: [RGBImage]) throws -> LanguageModel? {
        guard case .flamingo(let m) = kind else { return nil }
        return try m.prompt(ids: ids, pixels: images.isEmpty ? nil : processor?.batch(images))
    }

    /// One turn of a conversation; `images` counts the images attached to it.
    public struct Message {
        public let role: String
        public let text: String
        public let images: Int
        public init(role: String, text: String, images: Int = 0) { (self.role, self.text, self.images) = (role, text, images) }
    }

    /// A conversation as the model sees it (with the generation prompt for the next assistant turn)
    /// and whether the tokenizer should still add its special tokens.
    public func format(conversation: [Message]) throws -> (text: String, addSpecialTokens: Bool) {
        let multimodal: Bool
        if case .text = kind { multimodal = false } else { multimodal = true }
        // MiniGPT-4's format is its directory's, whatever its language model's tokenizer says.
        if case .minigpt4(let m) = kind { return (minigpt4Text(conversation, config: m.config), true) }
        if let chatTemplate {
            let messages: [TemplateValue] = conversation.map { m in
                let content: TemplateValue = multimodal && !m.text.contains(imageMarker)
                    ? .list([TemplateValue](repeating: .object([("type", .string("image"))]), count: m.images)
                        + [.object([("type", .string("text")), ("text", .string(m.text))])])
                    : .string(m.text)
                return .object([("role", .string(m.role)), ("content", content)])
            }
            var variables = specialTokenText
            variables["messages"] = .list(messages)
            variables["add_generation_prompt"] = .bool(true)
            let text = try chatTemplate.render(variables)
            // Templates that write the BOS token themselves must not get a second one.
            let bos = specialTokenText["bos_token"]?.text ?? ""
            return (text, bos.isEmpty || !text.hasPrefix(bos))
        }
        if case .flamingo = kind {
            // Flamingo's interleaved text: each turn's images (when it has no markers) then its text.
            return (conversation.map { m in (m.text.contains(imageMarker) ? "" : String(repeating: imageMarker, count: m.images)) + m.text }
                .joined(), true)
        }
        let system: String
        switch kind {
        // The original LLaVA's conversation (vicuna_v1) starts with its system prompt.
        case .llava(let m): system = m.config.visionTowerDirectory == nil ? "" : LlavaConfig.vicunaSystemPrompt + " "
        case .mplugOwl(let m) where m.config.visionTower == .mplugOwl: return (mplugOwlPrompt(conversation), true)
        case .mplugOwl: system = ""
        default: return (conversation.map(\.text).joined(separator: "\n"), true)
        }
        let eos = specialTokenText["eos_token"]?.text ?? ""
        let turns = conversation.map { m -> String in
            let markers = m.text.contains(imageMarker) ? "" : String(repeating: imageMarker + "\n", count: m.images)
            return m.role == "assistant" ? "ASSISTANT: \(m.text)\(eos)" : "USER: \(markers)\(m.text)"
        }
        return (system + turns.joined(separator: " ") + " ASSISTANT:", true)
    }

    /// MiniGPT-4's conversation: each user turn in its prompt template (with the image prompt where
    /// the turn's image goes: at its `<image>` marker, or before its text), each answer after it.
    func minigpt4Text(_ conversation: [Message], config: MiniGPT4Config) -> String {
        conversation.map { m in
            guard m.role != "assistant" else { return m.text }
            let text = m.text.replacingOccurrences(of: imageMarker, with: config.imagePrompt)
            return config.userTurn(text, hasImage: m.images > 0 && !m.text.contains(imageMarker))
        }.joined(separator: " ")
    }

    /// The released mPLUG-Owl's conversation: its system line, a "Human: <image>" line per image,
    /// "Human: …" and "AI: …" turns, ending with "AI: " for the reply.
    func mplugOwlPrompt(_ conversation: [Message]) -> String {
        let lines = conversation.flatMap { m -> [String] in
            if m.role == "assistant" { return ["AI: \(m.text)"] }
            let markers = m.text.contains(imageMarker) ? [] : [String](repeating: "Human: \(imageMarker)", count: m.images)
            return markers + ["Human: \(m.text)"]
        }
        return ([MPlugOwlConfig.systemPrompt] + lines + ["AI: "]).joined(separator: "\n")
    }

    /// The prompt as a model sees it and whether the tokenizer should still add its special tokens.
    /// Without `raw`: the model's chat template (one user turn; for image models its content is
    /// image parts then the text) with the generation prompt, or, for LLaVA without a template, its
    /// conversation format "USER: <image>\n… ASSISTANT:". `<image>` marks each image's place.
    public func format(_ prompt: String, images: Int, raw: Bool) throws -> (text: String, addSpecialTokens: Bool) {
        if raw { return (prompt, true) }
        return try format(conversation: [Message(role: "user", text: prompt, images: images)])
    }

    /// Token ids (image markers expanded to one token per image feature) and input embeddings.
    public func prepare(prompt: String, images: [RGBImage], raw: Bool = false) throws -> (ids: [Int], embeddings: Tensor) {
        try prepare(formatted: format(prompt, images: images.count, raw: raw), images: images)
    }

    /// Token ids and embeddings of already formatted text. A prompt of more than `maxTokens`
    /// tokens is refused (`PromptTooLongError`) before any embedding is computed.
    public func prepare(formatted: (text: String, addSpecialTokens: Bool), images: [RGBImage],
                        maxTokens: Int = .max) throws -> (ids: [Int], embeddings: Tensor) {
        let (text, addSpecial) = formatted
        let pixels = try images.isEmpty ? nil : processor.map { $0.batch(images) } ?? {
            throw ModelInputError("this model takes no images")
        }()
        var ids: [Int]
        switch kind {
        case .text:
            guard images.isEmpty else { throw ModelInputError("this model takes no images") }
            ids = tokenizer.encode(text, addSpecialTokens: addSpecial)
        case .llava(let m):
            ids = try imageTokenIds(text, images: images.count, tokensPerImage: m.tokensPerImage, imageTokenId: m.config.imageTokenId,
                                    addSpecialTokens: addSpecial)
        case .blip2(let m):
            guard images.count <= 1 else { throw ModelInputError("BLIP-2 takes one image per prompt") }
            ids = tokenizer.encode(text.replacingOccurrences(of: imageMarker, with: ""), addSpecialTokens: addSpecial)
            if !images.isEmpty, let token = m.config.imageTokenId { ids = [Int](repeating: token, count: m.config.numQueryTokens) + ids }
        case .flamingo(let m):
            let markers = text.components(separatedBy: imageMarker).count - 1
            guard markers == images.count else {
                throw ModelInputError("the prompt has \(markers) \(imageMarker) marker(s) for \(images.count) image(s)")
            }
            ids = tokenizer.encode(text, addSpecialTokens: addSpecial)
            if let special = tokenizer.tokenId(imageMarker), special != m.config.mediaTokenId {
                ids = ids.map { $0 == special ? m.config.mediaTokenId : $0 }
            }
        case .mplugOwl(let m):
            ids = try imageTokenIds(text, images: images.count, tokensPerImage: m.tokensPerImage, imageTokenId: m.config.imageTokenId,
                                    addSpecialTokens: addSpecial)
        case .minigpt4:
            let pieces = try minigpt4Pieces(text, images: images.count, addSpecialTokens: addSpecial)
            ids = pieces.before + pieces.after
        }
        guard ids.count <= maxTokens else { throw PromptTooLongError(tokens: ids.count, limit: maxTokens) }
        let vocab = languageModel.vocabSize
        let imageToken: Int? = {
            switch kind {
            case .llava(let m): return m.config.imageTokenId
            case .mplugOwl(let m): return m.config.imageTokenId
            default: return nil
            }
        }()
        if let bad = ids.first(where: { ($0 < 0 || $0 >= vocab) && $0 != imageToken }) {
            throw ModelInputError("token id \(bad) is outside the model's vocabulary of \(vocab) (tokenizer and model do not match)")
        }
        let embeddings: Tensor = try noGrad {
            switch kind {
            case .text(let m): return m.embed(Tensor(ints: ids, shape: [1, ids.count]))
            case .llava(let m): return try m.inputEmbeddings(ids: ids, pixels: pixels)
            case .blip2(let m): return try m.inputEmbeddings(ids: ids, pixels: pixels)
            case .flamingo(let m): return m.model.language_model.embed(Tensor(ints: ids, shape: [1, ids.count]))
            case .mplugOwl(let m): return try m.inputEmbeddings(ids: ids, pixels: pixels)
            case .minigpt4(let m):
                guard let pixels else { return m.language_model.embed(Tensor(ints: ids, shape: [1, ids.count])) }
                let pieces = try minigpt4Pieces(text, images: 1, addSpecialTokens: addSpecial)
                return m.inputEmbeddings(before: pieces.before, pixels: pixels, after: pieces.after)
            }
        }
        return (ids, embeddings)
    }

    /// MiniGPT-4's prompt tokenized as the paper does: the text before `<ImageHere>` (with the
    /// special tokens) and after it; without an image all of it is `before`.
    func minigpt4Pieces(_ text: String, images: Int, addSpecialTokens: Bool) throws -> (before: [Int], after: [Int]) {
        let pieces = text.components(separatedBy: MiniGPT4.imagePlaceholder)
        guard images <= 1, pieces.count - 1 == images else {
            throw ModelInputError("MiniGPT-4 takes at most one image; the prompt has \(pieces.count - 1) \(MiniGPT4.imagePlaceholder) for \(images) image(s)")
        }
        return (tokenizer.encode(pieces[0], addSpecialTokens: addSpecialTokens), pieces.count == 2 ? tokenizer.encode(pieces[1], addSpecialTokens: false) : [])
    }

    /// `text` tokenized with each `<image>` marker expanded to `tokensPerImage` image tokens (LLaVA, mPLUG-Owl).
    func imageTokenIds(_ text: String, images: Int, tokensPerImage: Int, imageTokenId: Int, addSpecialTokens: Bool) throws -> [Int] {
        let markers = text.components(separatedBy: imageMarker).count - 1
        guard markers == images else {
            throw ModelInputError("the prompt has \(markers) \(imageMarker) marker(s) for \(images) image(s)")
        }
        guard imageTokenId >= 0, let special = tokenizer.tokenId(imageMarker) else {
            return encodeAroundImages(text, imageToken: imageTokenId, count: tokensPerImage, addSpecialTokens: addSpecialTokens)
        }
        let expanded = text.replacingOccurrences(of: imageMarker, with: String(repeating: imageMarker, count: tokensPerImage))
        return tokenizer.encode(expanded, addSpecialTokens: addSpecialTokens).map { $0 == special ? imageTokenId : $0 }
    }

    /// For image tokens outside the vocabulary (the original LLaVA's) or tokenizers without `<image>`:
    /// the text between markers is tokenized piece by piece, special tokens only on the first (LLaVA's
    /// `tokenizer_image_token`), and each marker becomes `count` image tokens.
    func encodeAroundImages(_ text: String, imageToken: Int, count: Int, addSpecialTokens: Bool) -> [Int] {
        let pieces = text.components(separatedBy: imageMarker)
        var ids = tokenizer.encode(pieces[0], addSpecialTokens: addSpecialTokens)
        for piece in pieces.dropFirst() {
            ids += [Int](repeating: imageToken, count: count) + tokenizer.encode(piece, addSpecialTokens: false)
        }
        return ids
    }

    public struct Result {
        public let tokens: [Int]
        public let text: String
        public let finishReason: FinishReason
        public let promptTokens: Int
    }

    /// Generates after the prompt; `onText` receives decoded pieces as they complete and returns
    /// false to stop.
    public func generate(prompt: String, images: [RGBImage] = [], raw: Bool = false, sampling: SamplingParameters,
                         maxTokens: Int, stopStrings: [String] = [], onText: (String) -> Bool = { _ in true }) throws -> Result {
        try generate(formatted: raw ? (prompt, true) : format(prompt, images: images.count, raw: false), images: images,
                     sampling: sampling, maxTokens: maxTokens, stopStrings: stopStrings, onText: onText)
    }

    /// The next assistant turn of a conversation; `images` are all the conversation's images in order.
    public func reply(to conversation: [Message], images: [RGBImage], sampling: SamplingParameters, maxTokens: Int,
                      onText: (String) -> Bool = { _ in true }) throws -> Result {
        try generate(formatted: format(conversation: conversation), images: images, sampling: sampling, maxTokens: maxTokens, onText: onText)
    }

    /// Generation after formatted text. With stop strings, text is held back while it could be the
    /// start of one, and generation ends where one appears (the stop string is not returned).
    func generate(formatted: (text: String, addSpecialTokens: Bool), images: [RGBImage], sampling: SamplingParameters,
                  maxTokens: Int, stopStrings: [String] = [], onText: (String) -> Bool) throws -> Result {
        let (ids, embeddings) = try prepare(formatted: formatted, images: images)
        let length = embeddings.shape[1]
        guard length + maxTokens <= contextLength else {
            throw ModelInputError("the prompt has \(length) tokens; with \(maxTokens) new ones that exceeds the model's context of \(contextLength)")
        }
        let stopStrings = stopStrings + self.stopStrings
        var text = GeneratedText(tokenizer: tokenizer, stopStrings: stopStrings)
        var (tokens, reason) = Generator(model: try decoder(ids: ids, images: images)).generate(
            promptEmbeddings: embeddings, promptIds: ids, sampling: sampling,
            stop: StopConditions(maxNewTokens: maxTokens, stopTokenIds: stopTokenIds)) { token in
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
