import VLTensor

/// Which entries make up each batch of an epoch: a seeded shuffle, then consecutive slices.
/// Epoch e's order depends only on (seed, e), so a resumed run sees the same batches.
public struct BatchOrder: Sendable {
    public let count: Int
    public let batchSize: Int
    public let seed: UInt64
    /// Leave out the last batch of an epoch when it is smaller than `batchSize`.
    public let dropLast: Bool

    public init(count: Int, batchSize: Int, seed: UInt64, dropLast: Bool = false) {
        precondition(count >= 0 && batchSize > 0, "a batch order needs count ≥ 0 and batchSize > 0")
        (self.count, self.batchSize, self.seed, self.dropLast) = (count, batchSize, seed, dropLast)
    }

    /// The entries of `epoch`, shuffled (Fisher–Yates with the project's generator).
    public func permutation(epoch: Int) -> [Int] {
        var rng = RandomGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch))
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, rng.nextInt(i + 1)) }
        return order
    }

    /// Batches in one epoch.
    public var batchesPerEpoch: Int { dropLast ? count / batchSize : (count + batchSize - 1) / batchSize }

    /// Batch `index` counted across epochs: batch `index % batchesPerEpoch` of epoch `index / batchesPerEpoch`.
    public func batch(_ index: Int) -> [Int] {
        let perEpoch = batchesPerEpoch
        precondition(perEpoch > 0, "a batch order of \(count) entries in batches of \(batchSize) has no batch")
        let order = permutation(epoch: index / perEpoch), start = (index % perEpoch) * batchSize
        return Array(order[start..<min(start + batchSize, count)])
    }

    /// The batches of `epoch`, each a list of entry indices.
    public func batches(epoch: Int) -> [[Int]] {
        let order = permutation(epoch: epoch)
        let end = dropLast ? count - count % batchSize : count
        return stride(from: 0, to: end, by: batchSize).map { Array(order[$0..<min($0 + batchSize, end)]) }
    }
}
