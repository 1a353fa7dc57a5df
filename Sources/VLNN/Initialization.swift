import VLTensor

/// Parameter initialisation from the process-wide generator. While a checkpoint is about to
/// replace every value (`Init.skipping`), parameters are allocated but neither filled nor touched.
public enum Init {
    nonisolated(unsafe) static var skip = false

    /// U(−bound, bound), PyTorch's default for Linear and Conv weights.
    public static func uniform(_ shape: [Int], bound: Float) -> Tensor {
        skip ? Tensor.uninitialized(shape) : Tensor.rand(shape, low: -bound, high: bound, rng: &GlobalRandom.generator)
    }

    /// N(0, std²).
    public static func normal(_ shape: [Int], std: Float = 1) -> Tensor {
        skip ? Tensor.uninitialized(shape) : Tensor.randn(shape, std: std, rng: &GlobalRandom.generator)
    }

    /// Builds modules whose values will all be loaded afterwards.
    public static func skipping<T>(_ body: () throws -> T) rethrows -> T {
        let previous = skip
        skip = true
        defer { skip = previous }
        return try body()
    }
}
