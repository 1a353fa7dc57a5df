import Foundation

// The OpenAI API's request and response bodies, as far as VLKit serves them. Unknown request
// fields are ignored, as OpenAI's clients send more than a server needs.

extension DecodingError {
    /// Where the error is, down to the failing key.
    var path: [CodingKey] {
        switch self {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c): return c.codingPath
        case .keyNotFound(let key, let c): return c.codingPath + [key]
        @unknown default: return []
        }
    }
}

/// A string or a list of strings (`stop`, embeddings `input`).
enum StringOrList: Decodable, Equatable {
    case one(String)
    case many([String])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .one(s); return }
        if let list = try? c.decode([String].self) { self = .many(list); return }
        throw DecodingError.typeMismatch(
            String.self,
            .init(codingPath: decoder.codingPath, debugDescription: "expected a string or a list of strings"))
    }

    var values: [String] {
        switch self {
        case .one(let s): return [s]
        case .many(let list): return list
        }
    }
}

struct ChatCompletionRequest: Decodable {
    struct Message: Decodable {
        let role: String
        let content: Content?
    }

    /// A message's content: plain text or a list of parts.
    enum Content: Decodable {
        case text(String)
        case parts([Part])

        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .text(s); return }
            do {
                self = .parts(try c.decode([Part].self))
            } catch let e as DecodingError where e.path.count > decoder.codingPath.count {
                throw e  // a list whose part is wrong: that part's own error
            } catch {
                throw DecodingError.typeMismatch(
                    String.self,
                    .init(codingPath: decoder.codingPath, debugDescription: "expected a string or a list of parts"))
            }
        }
    }

    enum Part: Decodable {
        case text(String)
        case imageURL(String)

        enum Keys: String, CodingKey { case type, text, image_url }
        struct ImageURL: Decodable { let url: String }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            switch try c.decode(String.self, forKey: .type) {
            case "text": self = .text(try c.decode(String.self, forKey: .text))
            case "image_url":
                // OpenAI sends {"url": …}; a bare string is accepted too.
                if let url = try? c.decode(String.self, forKey: .image_url) { self = .imageURL(url); return }
                self = .imageURL(try c.decode(ImageURL.self, forKey: .image_url).url)
            case let other:
                throw DecodingError.dataCorruptedError(
                    forKey: .type, in: c,
                    debugDescription: "unknown content part type \"\(other)\"; use text or image_url")
            }
        }
    }

    struct StreamOptions: Decodable { let include_usage: Bool? }

    let model: String
    let messages: [Message]
    let stream: Bool?
    let stream_options: StreamOptions?
    let temperature: Double?
    let top_p: Double?
    let max_tokens: Int?
    let max_completion_tokens: Int?
    let stop: StringOrList?
    let seed: Int?
    let n: Int?
}

struct EmbeddingsRequest: Decodable {
    let model: String
    let input: StringOrList
    let encoding_format: String?
}

struct Usage: Encodable {
    let prompt_tokens: Int
    let completion_tokens: Int
    let total_tokens: Int
}

struct ChatCompletion: Encodable {
    struct Choice: Encodable {
        let index: Int
        let message: AssistantMessage
        let finish_reason: String
    }

    struct AssistantMessage: Encodable {
        let role: String
        let content: String
    }

    let id: String
    let object = "chat.completion"
    let created: Int
    let model: String
    let choices: [Choice]
    let usage: Usage
}

/// One server-sent event of a streamed completion.
struct ChatCompletionChunk: Encodable {
    struct Choice: Encodable {
        let index: Int
        let delta: Delta
        let finish_reason: String?

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(delta, forKey: .delta)
            try c.encode(finish_reason, forKey: .finish_reason)  // null until the last chunk, as OpenAI sends it
        }

        enum CodingKeys: String, CodingKey { case index, delta, finish_reason }
    }

    struct Delta: Encodable {
        let role: String?
        let content: String?
    }

    let id: String
    let object = "chat.completion.chunk"
    let created: Int
    let model: String
    let choices: [Choice]
    let usage: Usage?
}

struct EmbeddingsResponse: Encodable {
    struct Item: Encodable {
        let object = "embedding"
        let index: Int
        let embedding: Vector
    }

    /// Floats as a JSON list, or (`encoding_format: base64`, the openai client's default) their
    /// little-endian f32 bytes in base64.
    enum Vector: Encodable {
        case floats([Float])
        case base64([Float])

        func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .floats(let v): try c.encode(v)
            case .base64(let v):
                try c.encode(v.map { $0.bitPattern.littleEndian }.withUnsafeBytes { Data($0) }.base64EncodedString())
            }
        }
    }

    struct EmbeddingUsage: Encodable {
        let prompt_tokens: Int
        let total_tokens: Int
    }

    let object = "list"
    let data: [Item]
    let model: String
    let usage: EmbeddingUsage
}

struct ModelList: Encodable {
    struct Model: Encodable {
        let id: String
        let object = "model"
        let created: Int
        let owned_by = "vlkit"
    }

    let object = "list"
    let data: [Model]
}

/// Compact JSON with "/" left as it is.
func encodeJSON<T: Encodable>(_ value: T) -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
        positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    // With non-finite floats spelled out, these plain value types always encode.
    return try! encoder.encode(value)
}
