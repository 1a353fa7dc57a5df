import Foundation
import VLImaging
import VLModels

/// What one request may ask of the server.
public struct ServerLimits: Sendable {
    public var maxBodyBytes = 20 << 20
    public var maxImagesPerRequest = 4
    public var maxPixelsPerImage = 25_000_000
    public var maxEmbeddingInputs = 256
    /// CLIP reads 77 tokens of a text; longer texts are refused rather than tokenised at length.
    public var maxEmbeddingTextCharacters = 10_000
    public var maxStopStrings = 4
    /// Whether `image_url` may name a file on the server's machine (a path or `file://` URL).
    public var allowLocalFiles = false

    public init() {}
}

/// A chat request checked and turned into what the scheduler runs.
struct GenerationJob {
    let conversation: [ChatMessage]
    let images: [RGBImage]
    let sampling: SamplingParameters
    /// Nil: up to the model's context.
    let maxTokens: Int?
    let stopStrings: [String]
}

/// One embeddings input: text, or an image given as a data URL.
enum EmbeddingInput {
    case text(String)
    case image(RGBImage)
}

/// Checks requests against the API, the served model and the limits; every refusal names the
/// parameter at fault.
struct RequestValidator {
    let modelID: String
    let limits: ServerLimits
    let takesImages: Bool
    /// Messages with more characters (Unicode scalars) than this cannot fit in the model's context;
    /// they are refused before tokenising, which for megabytes of text would hold up every request.
    var maxPromptCharacters: Int?

    static let roles: [String: String] = [
        "system": "system", "developer": "system", "user": "user", "assistant": "assistant",
    ]

    func decode<T: Decodable>(_ type: T.Type, from body: Data) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: body)
        } catch {
            throw APIError(decoding: error)
        }
    }

    func checkModel(_ model: String) throws {
        guard model == modelID else {
            throw APIError.invalid(
                "the model \"\(model)\" is not served here; this server has \"\(modelID)\"", param: "model",
                code: "model_not_found")
        }
    }

    func chatJob(_ r: ChatCompletionRequest) throws -> GenerationJob {
        try checkModel(r.model)
        guard !r.messages.isEmpty else {
            throw APIError.invalid("messages is empty; give at least one message", param: "messages")
        }
        if let n = r.n, n != 1 { throw APIError.invalid("n must be 1 (one choice per request)", param: "n") }
        var conversation: [ChatMessage] = []
        var images: [RGBImage] = []
        for (i, m) in r.messages.enumerated() {
            guard let role = Self.roles[m.role] else {
                throw APIError.invalid(
                    "messages[\(i)].role \"\(m.role)\" is not one of system, developer, user, assistant",
                    param: "messages[\(i)].role")
            }
            let (content, pictures) = try content(m.content, at: "messages[\(i)].content", imagesSoFar: images.count)
            conversation.append(ChatMessage(role: role, content: content))
            images += pictures
        }
        if let limit = maxPromptCharacters, conversation.map(\.text.unicodeScalars.count).reduce(0, +) > limit {
            throw APIError.invalid(
                "the messages are too long for the model's context (more than \(limit) characters)", param: "messages",
                code: "context_length_exceeded")
        }
        return GenerationJob(
            conversation: conversation, images: images, sampling: try sampling(r),
            maxTokens: try maxTokens(r), stopStrings: try stopStrings(r.stop))
    }

    /// A message's content as the client gave it (a string, or text and image parts in order) and its images.
    private func content(
        _ content: ChatCompletionRequest.Content?, at param: String, imagesSoFar: Int
    ) throws
        -> (ChatMessage.Content, [RGBImage])
    {
        switch content {
        case nil: return (.text(""), [])
        case .text(let s): return (.text(s), [])
        case .parts(let parts):
            var items: [ChatMessage.Part] = [], images: [RGBImage] = []
            for (j, part) in parts.enumerated() {
                switch part {
                case .text(let s): items.append(.text(s))
                case .imageURL(let url):
                    items.append(.image)
                    guard takesImages else {
                        throw APIError.invalid("\(param)[\(j)]: this model takes no images", param: "\(param)[\(j)]")
                    }
                    guard imagesSoFar + images.count < limits.maxImagesPerRequest else {
                        throw APIError.invalid(
                            "too many images: at most \(limits.maxImagesPerRequest) per request",
                            param: "\(param)[\(j)]",
                            code: "too_many_images")
                    }
                    images.append(try image(url, at: "\(param)[\(j)].image_url"))
                }
            }
            return (.parts(items), images)
        }
    }

    /// An image from a base64 data URL, or with `allowLocalFiles` from a path or file URL.
    func image(_ url: String, at param: String) throws -> RGBImage {
        let data: Data
        if url.hasPrefix("data:") {
            data = try dataURLPayload(url, at: param)
        } else if url.hasPrefix("file://") || url.hasPrefix("/") {
            guard limits.allowLocalFiles else {
                throw APIError.invalid(
                    "\(param): local files are not allowed (start the server with --allow-local-files)", param: param)
            }
            let path = url.hasPrefix("file://") ? (URL(string: url)?.path ?? String(url.dropFirst(7))) : url
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw APIError.invalid("\(param): \(path): no such file or it cannot be read", param: param)
            }
            data = contents
        } else {
            throw APIError.invalid(
                "\(param): only data: URLs with base64 images are accepted (the server fetches nothing)", param: param)
        }
        return try decodeImage(data, at: param)
    }

    private func dataURLPayload(_ url: String, at param: String) throws -> Data {
        guard let comma = url.firstIndex(of: ","), url[..<comma].hasSuffix(";base64") else {
            throw APIError.invalid("\(param): the data URL is not of the form data:image/…;base64,…", param: param)
        }
        guard let data = Data(base64Encoded: String(url[url.index(after: comma)...])) else {
            throw APIError.invalid(
                "\(param): the data URL's payload is not valid base64", param: param, code: "invalid_base64")
        }
        return data
    }

    private func decodeImage(_ data: Data, at param: String) throws -> RGBImage {
        if let size = try? RGBImage.size(of: data), size.width * size.height > limits.maxPixelsPerImage {
            throw APIError.invalidImage(
                "\(param): the image's \(size.width)×\(size.height) pixels exceed the limit of \(limits.maxPixelsPerImage)",
                param: param, code: "image_too_large")
        }
        do {
            return try RGBImage(data: data, maxPixels: limits.maxPixelsPerImage, source: "the image")
        } catch {
            throw APIError.invalidImage("\(param): \(error)", param: param)
        }
    }

    private func sampling(_ r: ChatCompletionRequest) throws -> SamplingParameters {
        // OpenAI's defaults: temperature 1, top_p 1. Without a seed, sampling is seeded with 0.
        let temperature = r.temperature ?? 1, topP = r.top_p ?? 1
        guard temperature.isFinite, temperature >= 0, temperature <= 2 else {
            throw APIError.invalid("temperature must be in [0, 2]", param: "temperature")
        }
        guard topP.isFinite, topP > 0, topP <= 1 else {
            throw APIError.invalid("top_p must be in (0, 1]", param: "top_p")
        }
        return SamplingParameters(
            temperature: Float(temperature), topP: Float(topP), seed: UInt64(truncatingIfNeeded: r.seed ?? 0))
    }

    private func maxTokens(_ r: ChatCompletionRequest) throws -> Int? {
        guard let n = r.max_completion_tokens ?? r.max_tokens else { return nil }
        guard n >= 1 else {
            throw APIError.invalid(
                "max_tokens must be at least 1",
                param: r.max_completion_tokens == nil ? "max_tokens" : "max_completion_tokens")
        }
        return n
    }

    private func stopStrings(_ stop: StringOrList?) throws -> [String] {
        let strings = stop?.values ?? []
        guard strings.count <= limits.maxStopStrings else {
            throw APIError.invalid("stop has more than \(limits.maxStopStrings) strings", param: "stop")
        }
        return strings.filter { !$0.isEmpty }
    }

    func embeddingInputs(_ r: EmbeddingsRequest) throws -> [EmbeddingInput] {
        try checkModel(r.model)
        if let format = r.encoding_format, format != "float" && format != "base64" {
            throw APIError.invalid(
                "encoding_format \"\(format)\" is not supported; use float or base64", param: "encoding_format")
        }
        let values = r.input.values
        guard !values.isEmpty else { throw APIError.invalid("input is empty", param: "input") }
        guard values.count <= limits.maxEmbeddingInputs else {
            throw APIError.invalid(
                "input has \(values.count) items; at most \(limits.maxEmbeddingInputs)", param: "input")
        }
        var images = 0
        return try values.enumerated().map { i, value in
            let param = values.count == 1 && r.input == .one(value) ? "input" : "input[\(i)]"
            guard !value.isEmpty else { throw APIError.invalid("\(param) is an empty string", param: param) }
            guard value.hasPrefix("data:") else {
                guard value.unicodeScalars.count <= limits.maxEmbeddingTextCharacters else {
                    throw APIError.invalid(
                        "\(param) has more than \(limits.maxEmbeddingTextCharacters) characters", param: param)
                }
                return .text(value)
            }
            images += 1
            guard images <= limits.maxImagesPerRequest else {
                throw APIError.invalid(
                    "too many images: at most \(limits.maxImagesPerRequest) per request", param: param,
                    code: "too_many_images")
            }
            return .image(try image(value, at: param))
        }
    }
}
