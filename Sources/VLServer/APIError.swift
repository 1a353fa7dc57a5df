import Foundation
import Hummingbird

/// A request the server refuses, answered as OpenAI does:
/// `{"error": {"message", "type", "param", "code"}}` with an HTTP status.
public struct APIError: Error, Equatable, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let message: String
    public let type: String
    public let param: String?
    public let code: String

    init(
        _ status: HTTPResponse.Status, _ message: String, param: String? = nil, code: String,
        type: String = "invalid_request_error"
    ) {
        (self.status, self.message, self.param, self.code, self.type) = (status, message, param, code, type)
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    static func invalid(_ message: String, param: String? = nil, code: String = "invalid_value") -> APIError {
        APIError(.badRequest, message, param: param, code: code)
    }

    static func invalidImage(_ message: String, param: String?, code: String = "invalid_image") -> APIError {
        APIError(.unprocessableContent, message, param: param, code: code)
    }

    static func bodyTooLarge(limit: Int) -> APIError {
        APIError(
            .contentTooLarge, "the request body is larger than the limit of \(limit) bytes", code: "request_too_large")
    }

    static let queueFull = APIError(
        .tooManyRequests, "the server is busy: the request queue is full; retry later",
        code: "queue_full", type: "rate_limit_error")

    static let shuttingDown = APIError(
        .serviceUnavailable, "the server is shutting down", code: "shutting_down", type: "server_error")

    static func internalError(_ message: String) -> APIError {
        APIError(.internalServerError, message, code: "internal_error", type: "server_error")
    }

    struct Body: Encodable {
        struct Detail: Encodable {
            let message: String
            let type: String
            let param: String?
            let code: String

            func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(message, forKey: .message)
                try c.encode(type, forKey: .type)
                try c.encode(param, forKey: .param)  // null when no one parameter is at fault
                try c.encode(code, forKey: .code)
            }

            enum CodingKeys: String, CodingKey { case message, type, param, code }
        }

        let error: Detail
    }

    var json: Data { encodeJSON(Body(error: .init(message: message, type: type, param: param, code: code))) }

    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == .tooManyRequests { headers[.retryAfter] = "1" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: json)))
    }
}

extension APIError {
    /// The error for a body that is not valid JSON or does not have the API's shape, naming the field.
    init(decoding error: Error) {
        switch error {
        case DecodingError.dataCorrupted(let c) where c.codingPath.isEmpty:
            self = .invalid("the body is not valid JSON", code: "invalid_json")
        case DecodingError.dataCorrupted(let c):
            self = .invalid("\(Self.path(c.codingPath)): \(c.debugDescription)", param: Self.path(c.codingPath))
        case DecodingError.keyNotFound(let key, let c):
            let path = Self.path(c.codingPath + [key])
            self = .invalid("\(path) is required", param: path, code: "missing_field")
        case DecodingError.typeMismatch(let type, let c), DecodingError.valueNotFound(let type, let c):
            let path = Self.path(c.codingPath)
            self = .invalid(
                "\(path): expected \(Self.describe(type, c.debugDescription))", param: path, code: "invalid_type")
        default:
            self = .invalid("the body is not valid JSON", code: "invalid_json")
        }
    }

    /// `messages[0].content[1].image_url` from a decoding path.
    static func path(_ keys: [CodingKey]) -> String {
        var path = ""
        for key in keys {
            if let i = key.intValue {
                path += "[\(i)]"
            } else {
                path += path.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return path.isEmpty ? "body" : path
    }

    private static func describe(_ type: Any.Type, _ detail: String) -> String {
        if detail.hasPrefix("expected ") { return String(detail.dropFirst(9)) }
        switch type {
        case is String.Type: return "a string"
        case is Int.Type: return "an integer"
        case is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is [Any].Type: return "a list"
        default: return detail.contains("Dictionary") ? "an object" : "a value of another type"
        }
    }
}
