import Foundation
import VLImaging
import VLTensor

/// One batch of images: which entries, their decoded images and their preprocessed pixels [B, 3, H, W].
public struct ImageBatch {
    public let indices: [Int]
    public let images: [RGBImage]
    public let pixels: Tensor
}

extension Prefetcher where Batch == ImageBatch {
    /// Decodes and preprocesses each batch's images (`images[i]` for i in the batch) ahead of the
    /// model, `depth` batches ahead; batches come out in the order of `batches`.
    public convenience init(
        images: [URL], batches: [[Int]], processor: ImageProcessor, depth: Int = 2, threads: Int = 1,
        maxPixels: Int = RGBImage.defaultMaxPixels
    ) {
        self.init(count: batches.count, depth: depth, threads: threads) { b in
            let decoded = try batches[b].map { try RGBImage(contentsOf: images[$0], maxPixels: maxPixels) }
            return ImageBatch(indices: batches[b], images: decoded, pixels: processor.batch(decoded))
        }
    }
}
