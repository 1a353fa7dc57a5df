import Foundation
import VLImaging
import VLIO
import VLNN
import VLTensor
import VLTokenizers

/// A model directory ready for text generation: a LLaMA-family or OPT decoder, or a LLaVA or
/// BLIP-2 assembly with its image processor, and the tokenizer from `tokenizer.json`.
public final class GenerationPipeline {
    enum Kind {
        case text(LanguageModel)
        case llava(LlavaForConditionalGeneration)
        case blip2(Blip2ForConditionalGeneration)
    }

    let kind: Kind
    public let tokenizer: Tokenizer
    public let processor: ImageProcessor?
    public let stopTokenIds: Set<Int>
    /// Positions the model can attend to (prompt + generated tokens).
    public let contextLength: Int
    public let imageMarker = "<image>"

    public init(directory: URL, format: WeightFormat = .f32, quantization: QuantizationFormat? = nil) throws {
        let model = try loadModel(directory: directory, only: ["llama", "mistral", "qwen2", "opt", "llava", "blip-2"], format: format)
        let config = try ConfigReader(contentsOf: directory.appendingPathComponent("config.json"))
        switch model {
        case .llama(let m): kind = .text(m); contextLength = m.config.maxPositionEmbeddings
        case .opt(let m): kind = .text(m); contextLength = m.config.maxPositionEmbeddings
        case .llava(let m): kind = .llava(m); contextLength = m.config.text.maxPositionEmbeddings
        case .blip2(let m):
            kind = .blip2(m)
            switch m.config.text {
            case .opt(let c): contextLength = c.maxPositionEmbeddings
            case .llama(let c): contextLength = c.maxPositionEmbeddings
            }
        default: throw ConfigError("\(directory.path): not a generative model")
        }
        tokenizer = try Tokenizer(directory: directory)
        if let quantization {
            switch kind {
            case .text(let m): m.quantize(quantization)
            case .llava(let m): m.language_model.quantize(quantization)
            case .blip2(let m): m.language_model.quantize(quantization)
            }
        }
        if case .text = kind { processor = nil } else { processor = try ImageProcessor(directory: directory) }
        var stops = Set<Int>()
        let generationConfig = directory.appendingPathComponent("generation_config.json")
        if let g = try? ConfigReader(contentsOf: generationConfig), let ids = try g.ints("eos_token_id") { stops.formUnion(ids) }
        let textConfig = try config.sub("text_config") ?? config
        if let ids = try textConfig.ints("eos_token_id") { stops.formUnion(ids) }
        if let eos = tokenizer.eosTokenId { stops.insert(eos) }
        stopTokenIds = stops
    }

    var languageModel: LanguageModel {
        switch kind {
        case .text(let m): return m
        case .llava(let m): return m.language_model
        case .blip2(let m): return m.language_model
        }
    }

    /// The prompt as a model sees it. Without `raw`, LLaVA prompts are wrapped in its
    /// conversation format ("USER: <image>\n… ASSISTANT:"); `<image>` marks each image's place.
    public func format(_ prompt: String, images: Int, raw: Bool) -> String {
        guard !raw, case .llava = kind else { return prompt }
        let markers = prompt.contains(imageMarker) ? "" : String(repeating: imageMarker + "\n", count: images)
        return "USER: \(markers)\(prompt) ASSISTANT:"
    }

    /// Token ids (image markers expanded to one token per image feature) and input embeddings.
    public func prepare(prompt: String, images: [RGBImage], raw: Bool = false) throws -> (ids: [Int], embeddings: Tensor) {
        let text = format(prompt, images: images.count, raw: raw)
        let markers = text.components(separatedBy: imageMarker).count - 1
        let pixels = try images.isEmpty ? nil : processor.map { $0.batch(images) } ?? {
            throw ModelInputError("this model takes no images")
        }()
        var ids: [Int]
        switch kind {
        case .text:
            guard images.isEmpty else { throw ModelInputError("this model takes no images") }
            ids = tokenizer.encode(text)
        case .llava(let m):
            guard markers == images.count else {
                throw ModelInputError("the prompt has \(markers) \(imageMarker) marker(s) for \(images.count) image(s)")
            }
            let expanded = text.replacingOccurrences(of: imageMarker, with: String(repeating: imageMarker, count: m.tokensPerImage))
            ids = tokenizer.encode(expanded)
            if let special = tokenizer.tokenId(imageMarker), special != m.config.imageTokenId {
                ids = ids.map { $0 == special ? m.config.imageTokenId : $0 }
            }
        case .blip2(let m):
            guard images.count <= 1 else { throw ModelInputError("BLIP-2 takes one image per prompt") }
            ids = tokenizer.encode(text.replacingOccurrences(of: imageMarker, with: ""))
            if !images.isEmpty, let token = m.config.imageTokenId { ids = [Int](repeating: token, count: m.config.numQueryTokens) + ids }
        }
        let vocab = languageModel.vocabSize
        if let bad = ids.first(where: { $0 < 0 || $0 >= vocab }) {
            throw ModelInputError("token id \(bad) is outside the model's vocabulary of \(vocab) (tokenizer and model do not match)")
        }
        let embeddings: Tensor = try noGrad {
            switch kind {
            case .text(let m): return m.embed(Tensor(ints: ids, shape: [1, ids.count]))
            case .llava(let m): return try m.inputEmbeddings(ids: ids, pixels: pixels)
            case .blip2(let m): return try m.inputEmbeddings(ids: ids, pixels: pixels)
            }
        }
        return (ids, embeddings)
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
                         maxTokens: Int, onText: (String) -> Bool = { _ in true }) throws -> Result {
        let (ids, embeddings) = try prepare(prompt: prompt, images: images, raw: raw)
        let length = embeddings.shape[1]
        guard length + maxTokens <= contextLength else {
            throw ModelInputError("the prompt has \(length) tokens; with \(maxTokens) new ones that exceeds the model's context of \(contextLength)")
        }
        var stream = StreamingDecoder(tokenizer)
        let (tokens, reason) = Generator(model: languageModel).generate(
            promptEmbeddings: embeddings, promptIds: ids, sampling: sampling,
            stop: StopConditions(maxNewTokens: maxTokens, stopTokenIds: stopTokenIds)) { token in onText(stream.push(token)) }
        _ = onText(stream.finish())
        return Result(tokens: tokens, text: tokenizer.decode(tokens, skipSpecialTokens: true), finishReason: reason, promptTokens: length)
    }
}
