import Foundation
import VLNN
import VLTensor

/// A recipe's training items — tokenised examples, image–caption pairs, documents — as batches:
/// how many items there are, and `load`, which makes the batch of the given items. `load` runs on
/// the prefetch thread, ahead of the model, so it must depend only on its argument (it decodes and
/// preprocesses images, pads token ids); the model's work stays in the step.
public struct Batches<Batch> {
    public var count: Int
    /// Items per batch; the training settings' batch size when nil.
    public var batchSize: Int?
    public var load: ([Int]) throws -> Batch

    public init(count: Int, batchSize: Int? = nil, load: @escaping ([Int]) throws -> Batch) {
        (self.count, self.batchSize, self.load) = (count, batchSize, load)
    }
}

extension Batches {
    /// The same batches, each with `more(batch)` made beside it on the prefetch thread (a batch's
    /// pixels, say).
    public func adding<T>(_ more: @escaping (Batch) throws -> T) -> Batches<(Batch, T)> {
        let load = self.load
        return Batches<(Batch, T)>(count: count, batchSize: batchSize) { rows in
            let batch = try load(rows)
            return (batch, try more(batch))
        }
    }
}

extension Trainer {
    /// The loop every recipe trains with: micro-batch m of step s is batch s·accumulation + m of
    /// `BatchOrder`'s seeded epochs over the items (each epoch a new shuffle, its last short batch
    /// left out), loaded ahead of the model by a `Prefetcher`; `loss` turns a batch into its loss
    /// and sample count (the generator is the trainer's, for what a recipe samples inside a batch).
    /// The order depends only on the seed and the step, so a resumed run sees the batches the
    /// interrupted one would have, and the same items train the same way whatever their source.
    public func run<Batch>(
        _ batches: Batches<Batch>, depth: Int = 2,
        _ loss: (Batch, inout RandomGenerator) throws -> (loss: Tensor, samples: Int)
    ) throws {
        let order = try batchOrder(batches)
        let first = step * settings.accumulation, total = settings.steps * settings.accumulation
        let prefetcher = Prefetcher(count: max(0, total - first), depth: depth) { j in
            try batches.load(order.batch(first + j))
        }
        try run { rng in
            guard let batch = try prefetcher.next() else { preconditionFailure("the prefetcher ran out of batches") }
            return try loss(batch, &rng)
        }
    }

    /// Measures `loss` on every item of `batches` (in order, in batches of the training size) as
    /// the held-out loss every `every` steps and after the last: the mean over batches weighted by
    /// their samples, with a generator of fixed seed (the same draws at every measurement).
    public func validate<Batch>(
        every: Int, on batches: Batches<Batch>,
        _ loss: @escaping (Batch, inout RandomGenerator) throws -> (loss: Tensor, samples: Int)
    ) {
        let size = max(1, batches.batchSize ?? settings.batchSize), seed = settings.seed
        validation = (
            every,
            {
                var rng = RandomGenerator(seed: seed &+ 0x7A11D)
                var total: Double = 0, samples = 0
                for start in stride(from: 0, to: batches.count, by: size) {
                    let (l, n) = try loss(try batches.load(Array(start..<min(start + size, batches.count))), &rng)
                    total += Double(l.item()) * Double(n)
                    samples += n
                }
                return samples > 0 ? Float(total / Double(samples)) : .nan
            }
        )
    }

    func batchOrder<Batch>(_ batches: Batches<Batch>) throws -> BatchOrder {
        guard batches.count > 0 else { throw RecipeError("nothing to train on: the data gave no training items") }
        let size = min(max(1, batches.batchSize ?? settings.batchSize), batches.count)
        return BatchOrder(count: batches.count, batchSize: size, seed: settings.seed, dropLast: true)
    }
}
