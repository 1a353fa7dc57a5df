/// An n-dimensional array on the CPU with PyTorch's semantics: row-major shapes and strides
/// (views share storage), broadcasting, and reverse-mode autodiff recorded when an input
/// requires a gradient. Compute is f32; other dtypes are converted on use.
public final class Tensor: @unchecked Sendable {
    public let storage: Storage
    public let dtype: DType
    public let shape: [Int]
    /// Strides in elements (0 for broadcast dimensions).
    public let strides: [Int]
    /// Offset of the first element, in elements.
    public let offset: Int

    /// The gradient accumulated by `backward()` (leaf tensors only).
    public var grad: Tensor?
    /// When set on a leaf, operations on it are recorded for `backward()`.
    public var requiresGrad: Bool
    /// The operation that produced this tensor, when recorded.
    var gradNode: GradNode?
    /// Derived data kept with a weight (its packed GEMM panels); see `markMutated()`.
    var packedCache: AnyObject?

    public init(storage: Storage, dtype: DType, shape: [Int], strides: [Int]? = nil, offset: Int = 0) {
        self.storage = storage
        self.dtype = dtype
        self.shape = shape
        self.strides = strides ?? Tensor.contiguousStrides(shape)
        self.offset = offset
        self.requiresGrad = false
    }

    // MARK: - Creation

    /// A new f32 tensor with zeroed memory.
    public convenience init(zeros shape: [Int]) {
        self.init(storage: Storage(byteCount: Tensor.count(shape) * 4), dtype: .f32, shape: shape)
    }

    /// A new f32 tensor whose contents the caller fills (see `mutablePointer`).
    public static func uninitialized(_ shape: [Int], dtype: DType = .f32) -> Tensor {
        Tensor(storage: Storage(uninitializedByteCount: count(shape) * dtype.byteSize), dtype: dtype, shape: shape)
    }

    public convenience init(_ values: [Float], shape: [Int]) {
        precondition(values.count == Tensor.count(shape), "\(values.count) values do not fill shape \(shape)")
        self.init(storage: Storage(uninitializedByteCount: values.count * 4), dtype: .f32, shape: shape)
        values.withUnsafeBufferPointer { src in
            if let s = src.baseAddress { mutablePointer.update(from: s, count: values.count) }
        }
    }

    public convenience init(_ values: [Float]) { self.init(values, shape: [values.count]) }

    /// Integer tensor (ids, indices). Stored as i64 like PyTorch's default index dtype.
    public convenience init(ints values: [Int], shape: [Int]? = nil) {
        let shape = shape ?? [values.count]
        precondition(values.count == Tensor.count(shape), "\(values.count) values do not fill shape \(shape)")
        self.init(storage: Storage(uninitializedByteCount: values.count * 8), dtype: .i64, shape: shape)
        let p = storage.base.assumingMemoryBound(to: Int64.self)
        for (i, v) in values.enumerated() { p[i] = Int64(v) }
    }

    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(zeros: shape) }
    public static func ones(_ shape: [Int]) -> Tensor { full(shape, 1) }

    public static func full(_ shape: [Int], _ value: Float) -> Tensor {
        let t = uninitialized(shape)
        t.mutablePointer.update(repeating: value, count: t.count)
        return t
    }

    public static func scalar(_ value: Float) -> Tensor { full([], value) }

    public static func arange(_ n: Int) -> Tensor { Tensor((0..<n).map(Float.init)) }

    /// Standard normal samples from a seeded generator.
    public static func randn(_ shape: [Int], std: Float = 1, rng: inout RandomGenerator) -> Tensor {
        let t = uninitialized(shape)
        let p = t.mutablePointer
        for i in 0..<t.count { p[i] = rng.nextNormal() * std }
        return t
    }

    /// Uniform samples in [low, high).
    public static func rand(_ shape: [Int], low: Float = 0, high: Float = 1, rng: inout RandomGenerator) -> Tensor {
        let t = uninitialized(shape)
        let p = t.mutablePointer
        for i in 0..<t.count { p[i] = low + (high - low) * rng.nextFloat() }
        return t
    }

    // MARK: - Shape facts

    public var rank: Int { shape.count }
    public var count: Int { Tensor.count(shape) }

    public var isContiguous: Bool { strides == Tensor.contiguousStrides(shape) || count <= 1 }

    /// Size of dimension `d` (negative counts from the end).
    public func size(_ d: Int) -> Int { shape[normalizeDim(d)] }

    public func normalizeDim(_ d: Int, rank r: Int? = nil) -> Int {
        let r = r ?? rank
        let n = d < 0 ? d + r : d
        precondition(n >= 0 && n < Swift.max(r, 1), "dimension \(d) out of range for rank \(r)")
        return n
    }

    public static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = acc
            acc *= shape[i]
        }
        return strides
    }

    // MARK: - Raw access

    /// Pointer to the first element of a contiguous f32 tensor, for reading.
    public var pointer: UnsafePointer<Float> {
        precondition(dtype == .f32, "f32 access to a \(dtype) tensor")
        return UnsafePointer(storage.base.assumingMemoryBound(to: Float.self) + offset)
    }

    /// Mutable pointer to the first element of an f32 tensor. Writing through it bypasses autodiff
    /// (used by optimisers and kernels on tensors they own); taking it marks the storage as changed.
    /// Code that keeps the pointer and writes later calls `markMutated()` after writing.
    public var mutablePointer: UnsafeMutablePointer<Float> {
        precondition(dtype == .f32, "f32 access to a \(dtype) tensor")
        storage.version &+= 1
        return storage.base.assumingMemoryBound(to: Float.self) + offset
    }

    /// Raw pointer to the first element, whatever the dtype.
    public var rawPointer: UnsafeMutableRawPointer { storage.base + offset * dtype.byteSize }

    /// This tensor as contiguous f32: itself when it already is, otherwise a converted copy
    /// (recorded for autodiff like any op).
    public func contiguous() -> Tensor {
        if isContiguous && dtype == .f32 { return self }
        let out = materialize(as: .f32)
        return record(out, [self]) { g in [g] }
    }

    /// Converts to another dtype (contiguous). Float↔float conversions are differentiable.
    /// `hugePages` for a model's weights, streamed by every token (see `Storage.allocate`).
    public func to(_ target: DType, hugePages: Bool = false) -> Tensor {
        if target == dtype && isContiguous { return self }
        let out = materialize(as: target, hugePages: hugePages)
        if target == .f32 && dtype.isFloatingPoint { return record(out, [self]) { g in [g] } }
        return out
    }

    /// Element values as Float (any dtype, any layout).
    public func toArray() -> [Float] {
        let c = contiguous()
        return Array(UnsafeBufferPointer(start: c.pointer, count: c.count))
    }

    /// Element values as Int (integer or float dtypes).
    public func toInts() -> [Int] {
        if dtype == .i64 && isContiguous {
            let p = rawPointer.assumingMemoryBound(to: Int64.self)
            return (0..<count).map { Int(p[$0]) }
        }
        return materialize(as: .i64).toInts()
    }

    /// The single value of a one-element tensor.
    public func item() -> Float {
        precondition(count == 1, "item() on a tensor of \(count) elements")
        return toArray()[0]
    }

    /// A tensor that shares storage but is cut off from the autodiff graph.
    public func detach() -> Tensor {
        Tensor(storage: storage, dtype: dtype, shape: shape, strides: strides, offset: offset)
    }

    /// A deep copy (contiguous, same dtype), not recorded.
    public func clone() -> Tensor { materialize(as: dtype) }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let values = count <= 16 ? toArray().map { String(format: "%.4f", $0) }.joined(separator: ", ") : "…"
        return "Tensor(\(shape), \(dtype)\(requiresGrad ? ", grad" : "")) [\(values)]"
    }
}
