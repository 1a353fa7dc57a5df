import Foundation

// Reductions along axes, with keepDim as in PyTorch. The reduced axes are moved last (a copy
// only when they are not already the trailing contiguous ones), then each output element
// reduces one contiguous run.

extension Tensor {
    /// Moves `axes` last and returns (contiguous data [outer, inner], kept shape with and without keepDim).
    private func reductionLayout(
        _ axes: [Int]
    ) -> (data: Tensor, outer: Int, inner: Int, keptShape: [Int], squeezedShape: [Int]) {
        let ax = Set(axes.map { normalizeDim($0) })
        let kept = (0..<rank).filter { !ax.contains($0) }
        let order = kept + ax.sorted()
        let moved =
            order == Array(0..<rank)
            ? dense
            : Tensor(
                storage: storage, dtype: dtype,
                shape: order.map { shape[$0] }, strides: order.map { strides[$0] }, offset: offset
            ).materialize(as: .f32)
        let inner = ax.map { shape[$0] }.reduce(1, *)
        let keptShape = (0..<rank).map { ax.contains($0) ? 1 : shape[$0] }
        return (moved, count / Swift.max(inner, 1), inner, keptShape, kept.map { shape[$0] })
    }

    @inline(__always)
    private func reduce(_ axes: [Int], keepDim: Bool, _ f: (UnsafePointer<Float>, Int) -> Float) -> Tensor {
        let l = reductionLayout(axes)
        let out = Tensor.uninitialized(keepDim ? l.keptShape : l.squeezedShape)
        let p = l.data.pointer, o = out.mutablePointer, inner = l.inner
        Parallel.forRange(l.outer, grain: Swift.max(1, 16384 / Swift.max(inner, 1))) { r in
            for i in r { o[i] = f(p + i * inner, inner) }
        }
        return out
    }

    /// Shape of the reduction result with keepDim, used to broadcast gradients back.
    private func keptShape(_ axes: [Int]) -> [Int] {
        let ax = Set(axes.map { normalizeDim($0) })
        return (0..<rank).map { ax.contains($0) ? 1 : shape[$0] }
    }

    private func allAxes(_ axes: [Int]?) -> [Int] { axes ?? Array(0..<rank) }

    public func sum(axes: [Int]? = nil, keepDim: Bool = false) -> Tensor {
        let ax = allAxes(axes)
        let out =
            leadingAxesSum(ax, keepDim: keepDim)
            ?? reduce(ax, keepDim: keepDim) { p, n in
                var s: Float = 0
                for i in 0..<n { s += p[i] }
                return s
            }
        let ks = keptShape(ax)
        return record(out, [self]) { g in [g.reshape(ks).expand(self.shape).dense] }
    }

    public func sum(_ axis: Int, keepDim: Bool = false) -> Tensor { sum(axes: [axis], keepDim: keepDim) }

    /// Σ over leading axes of a contiguous tensor (a bias gradient: rows added up) without moving
    /// the reduced axes last, which would copy the whole tensor. Nil when the layout differs.
    private func leadingAxesSum(_ axes: [Int], keepDim: Bool) -> Tensor? {
        let ax = Set(axes.map { normalizeDim($0) })
        guard !ax.isEmpty, ax.count < rank, ax == Set(0..<ax.count), dtype == .f32, isContiguous else { return nil }
        let rows = shape.prefix(ax.count).reduce(1, *), columns = count / Swift.max(rows, 1)
        let out = Tensor(zeros: keepDim ? keptShape(axes) : Array(shape.dropFirst(ax.count)))
        let p = pointer, o = out.mutablePointer
        let threads = Parallel.threadCount
        if columns >= 256 * threads || rows < 8 * threads || count < 1 << 16 {
            Parallel.forRange(columns, grain: 256) { r in
                for i in 0..<rows {
                    let row = p + i * columns
                    for j in r { o[j] += row[j] }
                }
            }
            return out
        }
        // Few columns (a bias gradient over many tokens): each thread sums a range of rows, then the partial sums are added.
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: threads * columns)
        defer { partial.deallocate() }
        partial.initialize(repeating: 0, count: threads * columns)
        Parallel.forRange(threads) { r in
            for t in r {
                let acc = partial + t * columns
                for i in rows * t / threads..<rows * (t + 1) / threads {
                    let row = p + i * columns
                    for j in 0..<columns { acc[j] += row[j] }
                }
            }
        }
        for t in 0..<threads { for j in 0..<columns { o[j] += partial[t * columns + j] } }
        return out
    }

    public func mean(axes: [Int]? = nil, keepDim: Bool = false) -> Tensor {
        let ax = allAxes(axes)
        let n = ax.map { shape[normalizeDim($0)] }.reduce(1, *)
        return sum(axes: ax, keepDim: keepDim) / Float(n)
    }

    public func mean(_ axis: Int, keepDim: Bool = false) -> Tensor { mean(axes: [axis], keepDim: keepDim) }

    /// Maximum along `axis`; the gradient flows to the first maximal element.
    public func max(_ axis: Int, keepDim: Bool = false) -> Tensor { extremum(axis, keepDim: keepDim, greater: true) }
    public func min(_ axis: Int, keepDim: Bool = false) -> Tensor { extremum(axis, keepDim: keepDim, greater: false) }

    /// Maximum over all elements.
    public func max() -> Tensor { reshape([count]).max(0) }
    public func min() -> Tensor { reshape([count]).min(0) }

    private func extremum(_ axis: Int, keepDim: Bool, greater: Bool) -> Tensor {
        let idx = argExtremum(axis, keepDim: true, greater: greater)
        let out = gather(axis, idx)
        return keepDim ? out : out.squeeze(axis)
    }

    /// Index of the maximum along `axis` (first one on ties), as an i64 tensor.
    public func argmax(_ axis: Int, keepDim: Bool = false) -> Tensor {
        argExtremum(axis, keepDim: keepDim, greater: true)
    }
    public func argmin(_ axis: Int, keepDim: Bool = false) -> Tensor {
        argExtremum(axis, keepDim: keepDim, greater: false)
    }

    private func argExtremum(_ axis: Int, keepDim: Bool, greater: Bool) -> Tensor {
        let f = reduce([axis], keepDim: keepDim) { p, n in
            var best = 0
            for i in 1..<Swift.max(n, 1) where greater ? p[i] > p[best] : p[i] < p[best] { best = i }
            return Float(best)
        }
        return f.materialize(as: .i64)
    }

    /// log Σ exp along `axis`, computed stably.
    public func logsumexp(_ axis: Int, keepDim: Bool = false) -> Tensor {
        let out = reduce([axis], keepDim: keepDim) { p, n in
            var m = -Float.infinity
            for i in 0..<n { m = Swift.max(m, p[i]) }
            if m == -.infinity { return m }
            var s: Float = 0
            for i in 0..<n { s += Foundation.exp(p[i] - m) }
            return m + Foundation.log(s)
        }
        let ks = keptShape([axis])
        return record(out, [self]) { g in [g.reshape(ks) * (self - out.reshape(ks)).exp()] }
    }

    /// Variance along `axes` with Bessel's correction by default (torch.var's `correction=1`).
    public func variance(axes: [Int], keepDim: Bool = false, correction: Int = 1) -> Tensor {
        let n = axes.map { shape[normalizeDim($0)] }.reduce(1, *)
        let centered = self - mean(axes: axes, keepDim: true)
        return (centered * centered).sum(axes: axes, keepDim: keepDim) / Float(Swift.max(n - correction, 1))
    }

    /// p-norm along `axes` (all axes by default).
    public func norm(p: Float = 2, axes: [Int]? = nil, keepDim: Bool = false) -> Tensor {
        if p == 2 { return (self * self).sum(axes: axes, keepDim: keepDim).sqrt() }
        if p == 1 { return abs().sum(axes: axes, keepDim: keepDim) }
        return abs().pow(p).sum(axes: axes, keepDim: keepDim).pow(1 / p)
    }
}
