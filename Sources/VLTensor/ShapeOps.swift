// Views (reshape, permute, narrow, expand, …) share storage; gathers and concatenations copy.

extension Tensor {
    /// A view with new dimensions (copies first when the layout does not allow a view).
    /// One dimension may be -1.
    public func reshape(_ newShape: [Int]) -> Tensor {
        var dims = newShape
        if let i = dims.firstIndex(of: -1) {
            let known = dims.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            dims[i] = known == 0 ? 0 : count / known
        }
        precondition(Tensor.count(dims) == count, "cannot reshape \(shape) to \(newShape)")
        if dims == shape { return self }
        let base = isContiguous ? self : materialize(as: dtype)
        let out = Tensor(storage: base.storage, dtype: dtype, shape: dims, offset: base.offset)
        return record(out, [self]) { g in [g.reshape(self.shape)] }
    }

    public func flatten(from start: Int = 0) -> Tensor {
        let s = normalizeDim(start)
        return reshape(Array(shape[..<s]) + [shape[s...].reduce(1, *)])
    }

    /// Reorders dimensions (a view).
    public func permute(_ order: [Int]) -> Tensor {
        precondition(order.count == rank && Set(order) == Set(0..<rank), "bad permutation \(order) for rank \(rank)")
        let out = Tensor(
            storage: storage, dtype: dtype, shape: order.map { shape[$0] },
            strides: order.map { strides[$0] }, offset: offset)
        return record(out, [self]) { g in
            var inverse = [Int](repeating: 0, count: order.count)
            for (i, o) in order.enumerated() { inverse[o] = i }
            return [g.permute(inverse)]
        }
    }

    public func transpose(_ d0: Int, _ d1: Int) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(normalizeDim(d0), normalizeDim(d1))
        return permute(order)
    }

    /// Swaps the last two dimensions.
    public var mT: Tensor { transpose(-2, -1) }

    /// Elements `start ..< start+length` along `dim` (a view).
    public func narrow(_ dim: Int, start: Int, length: Int) -> Tensor {
        let d = normalizeDim(dim)
        precondition(
            start >= 0 && length >= 0 && start + length <= shape[d],
            "narrow \(start)..<\(start + length) out of range for size \(shape[d])")
        var s = shape
        s[d] = length
        let out = Tensor(
            storage: storage, dtype: dtype, shape: s, strides: strides, offset: offset + start * strides[d])
        return record(out, [self]) { g in
            let full = Tensor.zeros(self.shape)
            full.narrowView(d, start: start, length: length).copyIn(g)
            return [full]
        }
    }

    /// Index `index` of dimension `dim`, removing that dimension (a view).
    public func select(_ dim: Int, _ index: Int) -> Tensor {
        let d = normalizeDim(dim)
        let i = index < 0 ? index + shape[d] : index
        return narrow(d, start: i, length: 1).squeeze(d)
    }

    /// Removes a size-1 dimension.
    public func squeeze(_ dim: Int) -> Tensor {
        let d = normalizeDim(dim)
        precondition(shape[d] == 1, "squeeze of dimension \(dim) with size \(shape[d])")
        var s = shape, st = strides
        s.remove(at: d)
        st.remove(at: d)
        let out = Tensor(storage: storage, dtype: dtype, shape: s, strides: st, offset: offset)
        return record(out, [self]) { g in [g.reshape(self.shape)] }
    }

    /// Inserts a size-1 dimension at `dim` (negative counts from the end of the new rank).
    public func unsqueeze(_ dim: Int) -> Tensor {
        let d = normalizeDim(dim, rank: rank + 1)
        var s = shape, st = strides
        s.insert(1, at: d)
        st.insert(d < rank ? strides[d] * shape[d] : 1, at: d)
        let out = Tensor(storage: storage, dtype: dtype, shape: s, strides: st, offset: offset)
        return record(out, [self]) { g in [g.reshape(self.shape)] }
    }

    /// Broadcasts to `target` without copying (stride 0 on stretched dimensions).
    public func expand(_ target: [Int]) -> Tensor {
        let shape = broadcastShapes(self.shape, target)
        precondition(shape == target, "cannot expand \(self.shape) to \(target)")
        let out = Tensor(
            storage: storage, dtype: dtype, shape: target, strides: broadcastStrides(to: target), offset: offset)
        return record(out, [self]) { g in [g.sumTo(self.shape)] }
    }

    /// Splits into pieces of `size` along `dim` (the last may be smaller).
    public func split(_ size: Int, dim: Int) -> [Tensor] {
        let d = normalizeDim(dim)
        return stride(from: 0, to: shape[d], by: size).map {
            narrow(d, start: $0, length: Swift.min(size, shape[d] - $0))
        }
    }

    /// Splits into pieces of the given sizes along `dim`.
    public func split(sizes: [Int], dim: Int) -> [Tensor] {
        let d = normalizeDim(dim)
        precondition(sizes.reduce(0, +) == shape[d], "split sizes \(sizes) do not add up to \(shape[d])")
        var start = 0
        return sizes.map { s in
            defer { start += s }; return narrow(d, start: start, length: s)
        }
    }

    /// `n` nearly equal chunks along `dim`, as torch.chunk.
    public func chunk(_ n: Int, dim: Int) -> [Tensor] {
        let d = normalizeDim(dim)
        return split((shape[d] + n - 1) / n, dim: d)
    }

    /// Rows `indices` of dimension `dim` (a copy; gradient scatters back with accumulation).
    public func indexSelect(_ dim: Int, _ indices: [Int]) -> Tensor {
        let d = normalizeDim(dim)
        let src = dense
        let outer = shape[..<d].reduce(1, *), inner = shape[(d + 1)...].reduce(1, *), n = shape[d]
        var outShape = shape
        outShape[d] = indices.count
        let out = Tensor.uninitialized(outShape)
        let s = src.pointer, o = out.mutablePointer
        for i in indices { precondition(i >= 0 && i < n, "index \(i) out of range for size \(n)") }
        for a in 0..<outer {
            for (j, idx) in indices.enumerated() {
                (o + (a * indices.count + j) * inner).update(from: s + (a * n + idx) * inner, count: inner)
            }
        }
        return record(out, [self]) { g in
            let gd = g.dense
            let full = Tensor.zeros(self.shape)
            let f = full.mutablePointer, gp = gd.pointer
            for a in 0..<outer {
                for (j, idx) in indices.enumerated() {
                    let dst = f + (a * n + idx) * inner, srcRow = gp + (a * indices.count + j) * inner
                    for k in 0..<inner { dst[k] += srcRow[k] }
                }
            }
            return [full]
        }
    }

    /// torch.gather: out[i][j][k] = self[i][index[i][j][k]][k] for dim = 1, and so on.
    public func gather(_ dim: Int, _ index: Tensor) -> Tensor {
        let d = normalizeDim(dim)
        precondition(index.rank == rank, "gather index rank \(index.rank) differs from \(rank)")
        let idx = index.toInts()
        let src = dense
        let out = Tensor.uninitialized(index.shape)
        let st = Tensor.contiguousStrides(shape), ist = Tensor.contiguousStrides(index.shape)
        let s = src.pointer, o = out.mutablePointer
        var offsets = [Int](repeating: 0, count: idx.count)
        for lin in 0..<idx.count {
            var rem = lin, off = 0
            for k in 0..<rank {
                let c = rem / ist[k]
                rem %= ist[k]
                let coord = k == d ? idx[lin] : c
                precondition(coord >= 0 && coord < shape[k], "gather index \(coord) out of range for size \(shape[k])")
                off += coord * st[k]
            }
            offsets[lin] = off
            o[lin] = s[off]
        }
        return record(out, [self]) { g in
            let gd = g.dense
            let full = Tensor.zeros(self.shape)
            let f = full.mutablePointer, gp = gd.pointer
            for lin in 0..<offsets.count { f[offsets[lin]] += gp[lin] }
            return [full]
        }
    }

    // MARK: - Internal helpers

    /// A narrowed view that is not recorded (for writing into a buffer with `copyIn`).
    public func narrowView(_ d: Int, start: Int, length: Int) -> Tensor {
        var s = shape
        s[d] = length
        return Tensor(storage: storage, dtype: dtype, shape: s, strides: strides, offset: offset + start * strides[d])
    }

    /// Writes `src` (broadcast to this view's shape) into this f32 view's memory.
    public func copyIn(_ src: Tensor) {
        precondition(dtype == .f32)
        let sd = src.dense
        let ss = sd.broadcastStrides(to: shape)
        let inner = shape.last ?? 1
        let dstRows = Tensor.rowOffsets(shape: shape, strides: strides, offset: offset)
        let srcRows = Tensor.rowOffsets(shape: shape, strides: ss, offset: 0)
        let d = storage.base.assumingMemoryBound(to: Float.self), s = sd.pointer
        let di = strides.last ?? 1, si = ss.last ?? 1
        for r in 0..<dstRows.count {
            for j in 0..<inner { d[dstRows[r] + j * di] = s[srcRows[r] + j * si] }
        }
    }
}

/// Joins tensors along an existing dimension.
public func cat(_ tensors: [Tensor], dim: Int) -> Tensor {
    precondition(!tensors.isEmpty, "cat of no tensors")
    let first = tensors[0]
    let d = first.normalizeDim(dim)
    var shape = first.shape
    shape[d] = tensors.map { t -> Int in
        precondition(
            t.rank == first.rank && (0..<t.rank).allSatisfy { $0 == d || t.shape[$0] == first.shape[$0] },
            "cat: shape \(t.shape) does not match \(first.shape) outside dimension \(d)")
        return t.shape[d]
    }.reduce(0, +)
    let out = Tensor.zeros(shape)
    var start = 0
    var starts: [Int] = []
    for t in tensors {
        starts.append(start)
        out.narrowView(d, start: start, length: t.shape[d]).copyIn(t)
        start += t.shape[d]
    }
    return record(out, tensors) { g in
        zip(tensors, starts).map { t, s in t.requiresGrad ? g.narrow(d, start: s, length: t.shape[d]).dense : nil }
    }
}

/// Joins tensors of the same shape along a new dimension.
public func stack(_ tensors: [Tensor], dim: Int) -> Tensor {
    precondition(!tensors.isEmpty, "stack of no tensors")
    let d = tensors[0].normalizeDim(dim, rank: tensors[0].rank + 1)
    return cat(tensors.map { $0.unsqueeze(d) }, dim: d)
}
