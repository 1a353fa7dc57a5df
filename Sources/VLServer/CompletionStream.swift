import Foundation
import Hummingbird
import NIOCore

/// One chat request's events turned into an OpenAI response: a whole `chat.completion`, or
/// server-sent `chat.completion.chunk` events ending with `data: [DONE]`.
final class CompletionStream: @unchecked Sendable {
    let id: Int
    let responseID: String
    let model: String
    let created = Int(Date().timeIntervalSince1970)
    private var events: AsyncStream<GenerationEvent>.Iterator
    private let scheduler: GenerationScheduler

    init(
        id: Int, events: AsyncStream<GenerationEvent>, scheduler: GenerationScheduler, responseID: String, model: String
    ) {
        self.id = id
        self.events = events.makeAsyncIterator()
        self.scheduler = scheduler
        self.responseID = responseID
        self.model = model
    }

    /// Waits until the request is admitted (its prompt tokens) or refused, before any response is sent.
    func start() async throws -> Int {
        switch await next() {
        case .started(let promptTokens): return promptTokens
        case .failed(let error): throw error
        default: throw APIError.internalError("the scheduler ended the request before starting it")
        }
    }

    func collect(promptTokens: Int) async throws -> ChatCompletion {
        var text = ""
        while true {
            switch await next() {
            case .text(let piece): text += piece
            case .finished(let reason, let completionTokens):
                return ChatCompletion(
                    id: responseID, created: created, model: model,
                    choices: [.init(index: 0, message: .init(role: "assistant", content: text), finish_reason: reason)],
                    usage: Usage(
                        prompt_tokens: promptTokens, completion_tokens: completionTokens,
                        total_tokens: promptTokens + completionTokens))
            case .failed(let error): throw error
            case .started: continue
            }
        }
    }

    /// The server-sent events; a failed write (the client went away) stops the generation.
    func streamingResponse(promptTokens: Int, includeUsage: Bool) -> Response {
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { [self] writer in
                do {
                    try await writer.write(event(chunk(delta: .init(role: "assistant", content: ""), finish: nil)))
                    while true {
                        switch await next() {
                        case .text(let piece):
                            try await writer.write(event(chunk(delta: .init(role: nil, content: piece), finish: nil)))
                        case .finished(let reason, let completionTokens):
                            try await writer.write(event(chunk(delta: .init(role: nil, content: nil), finish: reason)))
                            if includeUsage {
                                let usage = Usage(
                                    prompt_tokens: promptTokens, completion_tokens: completionTokens,
                                    total_tokens: promptTokens + completionTokens)
                                try await writer.write(
                                    event(
                                        encodeJSON(
                                            ChatCompletionChunk(
                                                id: responseID, created: created, model: model, choices: [],
                                                usage: usage))))
                            }
                            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                            try await writer.finish(nil)
                            return
                        case .failed(let error):
                            // Headers are gone; the error travels as an event, as OpenAI's streams do.
                            try await writer.write(event(error.json))
                            try await writer.finish(nil)
                            return
                        case .started: continue
                        }
                    }
                } catch {
                    scheduler.cancel(id)
                    throw error
                }
            })
    }

    private func next() async -> GenerationEvent {
        await events.next() ?? .failed(.internalError("the request's event stream ended early"))
    }

    private func chunk(delta: ChatCompletionChunk.Delta, finish: String?) -> Data {
        encodeJSON(
            ChatCompletionChunk(
                id: responseID, created: created, model: model,
                choices: [.init(index: 0, delta: delta, finish_reason: finish)], usage: nil))
    }

    private func event(_ json: Data) -> ByteBuffer {
        var buffer = ByteBuffer(string: "data: ")
        buffer.writeBytes(json)
        buffer.writeString("\n\n")
        return buffer
    }
}
