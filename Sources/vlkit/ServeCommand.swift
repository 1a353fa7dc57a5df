import ArgumentParser
import Foundation
import VLModels
import VLTensor
import VLServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Serve a model over an OpenAI-compatible HTTP API: /v1/chat/completions, /v1/embeddings (CLIP), /v1/models, /health."
    )
    @Option(help: "A Hugging Face model directory (a generative model, or CLIP for embeddings), or a GGUF file.")
    var model: String
    @Option(help: "With a GGUF --model: llama.cpp's vision projector file (mmproj) that makes it a LLaVA.")
    var mmproj: String?
    @Option(help: "The address to listen on.") var host = "127.0.0.1"
    @Option(help: "The port to listen on (0: any free port).") var port = 8080
    @Option(help: "Quantise the language model's weights at load: q8 or q4.") var quantize: String?
    @Option(help: "Requests decoded together in one batch.") var maxConcurrent = 8
    @Option(help: "Requests waiting for a slot before the server answers 429.") var maxQueue = 64
    @Flag(help: "Let image_url name a file on this machine (a path or file:// URL).") var allowLocalFiles = false
    @Option(help: "Refuse request bodies larger than this many bytes.") var maxBodyBytes = ServerLimits().maxBodyBytes
    @Option(help: "Refuse requests with more images than this.") var maxImages = ServerLimits().maxImagesPerRequest
    @Option(help: "Refuse images with more pixels than this.") var maxPixels = ServerLimits().maxPixelsPerImage
    @Flag(help: "Log the HTTP layer's notices (connections, errors).") var verbose = false

    func validate() throws {
        if let quantize, QuantizationFormat(rawValue: quantize) == nil {
            throw ValidationError("--quantize must be q8 or q4")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0…65535") }
        guard maxConcurrent >= 1 else { throw ValidationError("--max-concurrent must be at least 1") }
        guard maxQueue >= 0 else { throw ValidationError("--max-queue must not be negative") }
        guard maxBodyBytes >= 1, maxImages >= 0, maxPixels >= 1 else {
            throw ValidationError("--max-body-bytes, --max-images and --max-pixels must be positive")
        }
    }

    func run() async throws {
        let directory = URL(fileURLWithPath: model).standardizedFileURL
        let served = try ServedModel.load(
            directory: directory, mmproj: mmproj.map { URL(fileURLWithPath: $0) },
            quantization: quantize.flatMap { QuantizationFormat(rawValue: $0) })
        var options = ServerOptions()
        (options.host, options.port, options.maxConcurrent, options.maxQueue) = (host, port, maxConcurrent, maxQueue)
        options.limits.allowLocalFiles = allowLocalFiles
        options.verbose = verbose
        (options.limits.maxBodyBytes, options.limits.maxImagesPerRequest, options.limits.maxPixelsPerImage) = (
            maxBodyBytes, maxImages, maxPixels
        )
        let server = InferenceServer(model: served, modelID: directory.lastPathComponent, options: options)
        let host = self.host
        try await server.run { port in
            FileHandle.standardError.write(
                "vlkit serve: \(server.modelID) on http://\(host):\(port)/v1\n".data(using: .utf8)!)
        }
    }
}
