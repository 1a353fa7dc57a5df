import Foundation
import VLImaging
import VLModels
import VLTensor

/// Runs CLIP embeddings one request at a time on its own queue (off Swift's cooperative threads),
/// with at most `maxQueue` requests waiting.
final class EmbeddingService: @unchecked Sendable {
    let pipeline: CLIPPipeline
    let maxQueue: Int
    private let queue = DispatchQueue(label: "vlkit-embeddings")
    private let lock = NSLock()
    private var pending = 0

    init(pipeline: CLIPPipeline, maxQueue: Int) {
        self.pipeline = pipeline
        self.maxQueue = maxQueue
    }

    /// Normalised embeddings in input order and the tokens they took (text tokens; an image counts
    /// its vision positions).
    func embed(_ inputs: [EmbeddingInput]) async throws -> (embeddings: [[Float]], tokens: Int) {
        try reserve()
        return await withCheckedContinuation { continuation in
            queue.async { [self] in
                let result = compute(inputs)
                release()
                continuation.resume(returning: result)
            }
        }
    }

    private func reserve() throws {
        lock.lock()
        defer { lock.unlock() }
        guard pending <= maxQueue else { throw APIError.queueFull }
        pending += 1
    }

    private func release() {
        lock.lock()
        pending -= 1
        lock.unlock()
    }

    private func compute(_ inputs: [EmbeddingInput]) -> ([[Float]], Int) {
        var texts: [(Int, String)] = [], images: [(Int, RGBImage)] = []
        for (i, input) in inputs.enumerated() {
            switch input {
            case .text(let s): texts.append((i, s))
            case .image(let image): images.append((i, image))
            }
        }
        var rows = [[Float]](repeating: [], count: inputs.count)
        if !texts.isEmpty { place(pipeline.textEmbeddings(texts.map(\.1)), at: texts.map(\.0), in: &rows) }
        if !images.isEmpty { place(pipeline.imageEmbeddings(images.map(\.1)), at: images.map(\.0), in: &rows) }
        let textTokens = texts.map { Swift.min(pipeline.tokenizer.encode($0.1).count, pipeline.tokenizer.maxLength) }
            .reduce(0, +)
        return (rows, textTokens + images.count * pipeline.model.config.vision.numPositions)
    }

    private func place(_ embeddings: Tensor, at indices: [Int], in rows: inout [[Float]]) {
        let values = embeddings.toArray(), width = embeddings.shape[1]
        for (r, index) in indices.enumerated() { rows[index] = Array(values[(r * width)..<((r + 1) * width)]) }
    }
}
