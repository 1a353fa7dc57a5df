import Foundation
import Hummingbird
import Logging
import NIOCore
import VLFiles
import VLIO
import VLModels
import VLTensor

/// How `vlkit serve` listens and how much work it takes on.
public struct ServerOptions: Sendable {
    public var host = "127.0.0.1"
    /// 0: any free port (the bound one is passed to `run`'s `onListening`).
    public var port = 8080
    /// Sequences decoded together in one batch.
    public var maxConcurrent = 8
    /// Requests waiting for a slot before the server answers 429.
    public var maxQueue = 64
    public var limits = ServerLimits()
    /// Log the HTTP layer's notices (start-up, connection errors); off, only critical ones.
    public var verbose = false

    public init() {}
}

/// The model a server holds: a generative model for chat completions or CLIP for embeddings.
public enum ServedModel {
    case generation(GenerationPipeline)
    case clip(CLIPPipeline)

    /// Loads a directory by its config's `model_type` (anything but CLIP loads as a generative
    /// model, whose loader names what is missing or unsupported), or a GGUF file with its mmproj.
    public static func load(
        directory: URL, mmproj: URL? = nil, quantization: QuantizationFormat?
    ) throws
        -> ServedModel
    {
        if let mmproj {
            return .generation(
                try GenerationPipeline(ModelRegistry.open(directory, mmproj: mmproj), quantization: quantization))
        }
        let config = try? ConfigReader(contentsOf: directory.appendingPathComponent("config.json"))
        if (try? config?.string("model_type", "")) == "clip" { return .clip(try CLIPPipeline(directory: directory)) }
        return .generation(try GenerationPipeline(directory: directory, quantization: quantization))
    }
}

/// An OpenAI-compatible HTTP server over one model: chat completions (streamed or not) with
/// continuous batching, embeddings for CLIP, the model list and a health check.
public final class InferenceServer: @unchecked Sendable {
    public let modelID: String
    let options: ServerOptions
    let validator: RequestValidator
    let scheduler: GenerationScheduler?
    let embeddings: EmbeddingService?
    let created = Int(Date().timeIntervalSince1970)

    public init(model: ServedModel, modelID: String, options: ServerOptions) {
        self.modelID = modelID
        self.options = options
        switch model {
        case .generation(let pipeline):
            scheduler = GenerationScheduler(
                pipeline: pipeline, maxConcurrent: options.maxConcurrent, maxQueue: options.maxQueue)
            embeddings = nil
            validator = RequestValidator(
                modelID: modelID, limits: options.limits, takesImages: pipeline.takesImages,
                maxPromptCharacters: Self.promptCharacterLimit(pipeline))
        case .clip(let pipeline):
            scheduler = nil
            embeddings = EmbeddingService(pipeline: pipeline, maxQueue: options.maxQueue)
            validator = RequestValidator(modelID: modelID, limits: options.limits, takesImages: true)
        }
    }

    /// The most characters a prompt that fits in the context can have: each token stands for at most
    /// as many characters as the longest vocabulary entry (a byte-level entry's characters are bytes,
    /// a byte-fallback token is at most one character). Nil when runs of unknown characters fuse
    /// into one unknown token (no byte fallback), so no such bound exists.
    static func promptCharacterLimit(_ pipeline: GenerationPipeline) -> Int? {
        let tokenizer = pipeline.tokenizer
        guard tokenizer.bpe.byteFallback || !tokenizer.bpe.fuseUnknown else { return nil }
        let longest =
            (tokenizer.bpe.vocab.keys.map(\.unicodeScalars.count)
            + tokenizer.addedTokens.map(\.content.unicodeScalars.count)).max() ?? 1
        return pipeline.contextLength * Swift.max(longest, 1)
    }

    /// Serves until the calling task is cancelled; `onListening` gets the bound port.
    public func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        scheduler?.start()
        defer { scheduler?.stop() }
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "vlkit"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        try await app.run()
    }

    var logger: Logger {
        var logger = Logger(label: "vlkit-serve")
        logger.logLevel = options.verbose ? .info : .critical
        return logger
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/health") { [self] _, _ in Self.json(encodeJSON(health)) }
        router.get("/v1/models") { [self] _, _ in
            Self.json(encodeJSON(ModelList(data: [.init(id: modelID, created: created)])))
        }
        router.post("/v1/chat/completions") { [self] request, _ in await answer { try await chatCompletion(request) } }
        router.post("/v1/embeddings") { [self] request, _ in await answer { try await embeddings(request) } }
        router.add(middleware: UnknownRouteMiddleware())
        return router
    }

    /// Liveness and load: requests decoding, waiting, and stopped because their client went away.
    var health: Health {
        let stats = scheduler?.stats ?? (active: 0, waiting: 0, cancelled: 0)
        return Health(
            status: "ok", model: modelID, active: stats.active, waiting: stats.waiting, cancelled: stats.cancelled)
    }

    struct Health: Codable {
        let status: String
        let model: String
        let active: Int
        let waiting: Int
        let cancelled: Int
    }

    /// The handler's response, or its refusal as an OpenAI error object.
    private func answer(_ handler: () async throws -> Response) async -> Response {
        do {
            return try await handler()
        } catch let e as APIError {
            return e.response
        } catch {
            return APIError.internalError("\(error)").response
        }
    }

    private func body(_ request: Request) async throws -> Data {
        do {
            return Data(buffer: try await request.body.collect(upTo: options.limits.maxBodyBytes))
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge(limit: options.limits.maxBodyBytes)
        }
    }

    private func chatCompletion(_ request: Request) async throws -> Response {
        let data = try await body(request)
        guard let scheduler else {
            throw APIError.invalid(
                "the model \"\(modelID)\" gives embeddings, not chat completions; use /v1/embeddings", param: "model",
                code: "model_not_supported")
        }
        let parsed = try validator.decode(ChatCompletionRequest.self, from: data)
        let job = try validator.chatJob(parsed)
        let (id, stream) = try scheduler.submit(job)
        let completion = CompletionStream(
            id: id, events: stream, scheduler: scheduler,
            responseID: "chatcmpl-\(UUID().uuidString.lowercased())", model: modelID)
        let promptTokens = try await completion.start()
        if parsed.stream == true {
            return completion.streamingResponse(
                promptTokens: promptTokens, includeUsage: parsed.stream_options?.include_usage == true)
        }
        return Self.json(encodeJSON(try await completion.collect(promptTokens: promptTokens)))
    }

    private func embeddings(_ request: Request) async throws -> Response {
        let data = try await body(request)
        guard let embeddings else {
            throw APIError.invalid(
                "the model \"\(modelID)\" is not an embedding model; /v1/embeddings needs a CLIP model", param: "model",
                code: "model_not_supported")
        }
        let parsed = try validator.decode(EmbeddingsRequest.self, from: data)
        let (vectors, tokens) = try await embeddings.embed(try validator.embeddingInputs(parsed))
        let base64 = parsed.encoding_format == "base64"
        return Self.json(
            encodeJSON(
                EmbeddingsResponse(
                    data: vectors.enumerated().map {
                        .init(index: $0.offset, embedding: base64 ? .base64($0.element) : .floats($0.element))
                    }, model: modelID,
                    usage: .init(prompt_tokens: tokens, total_tokens: tokens))))
    }

    static func json(_ data: Data) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Answers a request for a path or method the server does not have with an OpenAI error object.
struct UnknownRouteMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound || error.status == .methodNotAllowed {
            return APIError(
                error.status,
                "no route \(request.method) \(request.uri.path); this server has POST /v1/chat/completions, "
                    + "POST /v1/embeddings, GET /v1/models and GET /health", code: "unknown_url"
            ).response
        }
    }
}
