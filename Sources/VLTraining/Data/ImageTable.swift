import Foundation
import VLImaging
import VLTensor

/// The distinct images of a dataset decoded and preprocessed once into one table, for recipes that
/// refer to an example's image by its row (`TokenizedExample.image`, as `WorldData.pixels`).
public struct ImageTable {
    /// Distinct files in order of first appearance; row i of `pixels` is `files[i]`.
    public let files: [URL]
    /// [files.count, 3, H, W], normalised as the processor does.
    public let pixels: Tensor
    private let rows: [URL: Int]

    /// Decodes on all cores, a batch per thread; throws the first image that cannot be decoded.
    public init(
        _ images: [URL], processor: ImageProcessor, batchSize: Int = 64, maxPixels: Int = RGBImage.defaultMaxPixels
    ) throws {
        precondition(!images.isEmpty, "an image table needs at least one image")
        var files: [URL] = [], rows: [URL: Int] = [:]
        for file in images where rows[file] == nil {
            rows[file] = files.count
            files.append(file)
        }
        let batches = stride(from: 0, to: files.count, by: batchSize).map {
            Array($0..<min($0 + batchSize, files.count))
        }
        let loader = Prefetcher(
            images: files, batches: batches, processor: processor, depth: Parallel.threadCount,
            threads: Parallel.threadCount, maxPixels: maxPixels)
        var parts: [Tensor] = []
        while let batch = try loader.next() { parts.append(batch.pixels) }
        (self.files, self.rows, pixels) = (files, rows, cat(parts, dim: 0))
    }

    /// The row of `file`'s pixels, if it is in the table.
    public func row(of file: URL) -> Int? { rows[file] }
}
