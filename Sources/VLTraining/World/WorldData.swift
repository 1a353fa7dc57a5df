import VLImaging
import VLTensor

/// Samples of the world with their images rendered and preprocessed once, for evaluation (training
/// reads the world as `TrainingData.world`).
public struct WorldData {
    public let samples: [WorldSample]
    /// [N, 3, H, W], normalised as the image processor does.
    public let pixels: Tensor

    public init(_ samples: [WorldSample], processor: ImageProcessor) {
        self.samples = samples
        let images = samples.map { $0.scene.render() }
        let one = 3 * processor.cropHeight * processor.cropWidth
        let out = Tensor.uninitialized([samples.count, 3, processor.cropHeight, processor.cropWidth])
        let o = out.mutablePointer
        Parallel.forRange(samples.count, grain: 16) { range in
            for i in range {
                let t = processor(images[i])
                (o + i * one).update(from: t.pointer, count: one)
            }
        }
        pixels = out
    }

    public var captions: [String] { samples.map(\.caption) }
}

extension WorldData {
    /// The scenes whose captions no other scene shares (retrieval needs one right answer).
    public func withDistinctCaptions(processor: ImageProcessor) -> WorldData {
        var counts: [String: Int] = [:]
        for s in samples { counts[s.caption, default: 0] += 1 }
        return WorldData(samples.filter { counts[$0.caption] == 1 }, processor: processor)
    }
}
