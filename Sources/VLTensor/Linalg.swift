import CKernels

// Matrix products. Operands are read in place when their last two dimensions are a plain or a
// transposed matrix (so `w.mT` costs no copy); batch dimensions broadcast as in torch.matmul.

/// How a [rows, cols] matrix sits in memory: transposed or not, and its leading dimension.
struct MatrixLayout {
    let transposed: Bool
    let ld: Int

    /// The layout of the last two dimensions, or nil when they need a copy first.
    init?(_ t: Tensor) {
        let rows = t.shape[t.rank - 2], cols = t.shape[t.rank - 1]
        let rs = t.strides[t.rank - 2], cs = t.strides[t.rank - 1]
        if cs == 1 && (rs >= cols || rows == 1) {
            transposed = false
            ld = rows == 1 ? Swift.max(cols, 1) : rs
        } else if rs == 1 && (cs >= rows || cols == 1) {
            transposed = true
            ld = cols == 1 ? Swift.max(rows, 1) : cs
        } else {
            return nil
        }
    }
}

/// Batched matrix product of the last two dimensions of `a` and `b`, no autodiff.
func matmulForward(_ a0: Tensor, _ b0: Tensor) -> Tensor {
    func prepared(_ t: Tensor) -> (Tensor, MatrixLayout) {
        let f = t.dtype == .f32 ? t : t.materialize(as: .f32)
        if let l = MatrixLayout(f) { return (f, l) }
        let c = f.materialize(as: .f32)
        return (c, MatrixLayout(c)!)
    }
    let (a, la) = prepared(a0), (b, lb) = prepared(b0)
    let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
    precondition(b.shape[b.rank - 2] == k, "matmul: \(a.shape) × \(b.shape) inner sizes differ")
    let batch = broadcastShapes(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2)))
    let out = Tensor.uninitialized(batch + [m, n])
    let batchCount = Tensor.count(batch)
    if batchCount == 0 || m == 0 || n == 0 { return out }
    let sa = Array(a.broadcastStrides(to: batch + [m, k]).dropLast(2))
    let sb = Array(b.broadcastStrides(to: batch + [k, n]).dropLast(2))
    let offA = batch.isEmpty ? [0] : Tensor.rowOffsets(shape: batch + [1], strides: sa + [1], offset: 0)
    let offB = batch.isEmpty ? [0] : Tensor.rowOffsets(shape: batch + [1], strides: sb + [1], offset: 0)
    let pa = a.pointer, pb = b.pointer, po = out.mutablePointer
    if k == 0 {
        po.update(repeating: 0, count: out.count)
        return out
    }
    // Many small products: one per thread. Few large ones: let the GEMM use the threads.
    let perProduct = m * n * k
    let runOne = { (i: Int) in
        sgemm(
            transA: la.transposed, transB: lb.transposed, m: m, n: n, k: k, alpha: 1,
            a: pa + offA[i], lda: la.ld, b: pb + offB[i], ldb: lb.ld, beta: 0, c: po + i * m * n, ldc: n)
    }
    if batchCount > 1 && perProduct < 1 << 21 {
        Parallel.forRange(batchCount) { r in for i in r { runOne(i) } }
    } else {
        for i in 0..<batchCount { runOne(i) }
    }
    return out
}

/// torch.matmul: 1-D operands are promoted (and the added dimension removed afterwards).
public func matmul(_ a: Tensor, _ b: Tensor) -> Tensor {
    if a.rank == 1 { return matmul(a.unsqueeze(0), b).squeeze(-2) }
    if b.rank == 1 { return matmul(a, b.unsqueeze(1)).squeeze(-1) }
    let out = matmulForward(a, b)
    return record(out, [a, b]) { g in
        [
            a.requiresGrad ? matmulForward(g, b.mT).sumTo(a.shape) : nil,
            b.requiresGrad ? matmulForward(a.mT, g).sumTo(b.shape) : nil,
        ]
    }
}

infix operator • : MultiplicationPrecedence
/// Matrix product (torch.matmul).
public func • (a: Tensor, b: Tensor) -> Tensor { matmul(a, b) }

/// y = x · Wᵀ + b with W stored [out, in] as in PyTorch's Linear. x: [..., in] → [..., out].
public func linear(_ x: Tensor, _ weight: Tensor, _ bias: Tensor? = nil) -> Tensor {
    let inF = weight.shape[1], outF = weight.shape[0]
    precondition(x.shape.last == inF, "linear: input \(x.shape) does not end in \(inF)")
    let x2 = x.reshape([-1, inF])
    var y = linearForward(x2.dense, weight, bias)
    y = record(y, [x2, weight] + (bias.map { [$0] } ?? [])) { g in
        var grads: [Tensor?] = [
            x2.requiresGrad ? matmulForward(g, weight) : nil,
            weight.requiresGrad ? matmulForward(g.mT, x2) : nil,
        ]
        if let bias { grads.append(bias.requiresGrad ? g.sum(0) : nil) }
        return grads
    }
    return y.reshape(Array(x.shape.dropLast()) + [outF])
}

func linearForward(_ x: Tensor, _ weight: Tensor, _ bias: Tensor?) -> Tensor {
    let m = x.shape[0], k = x.shape[1], n = weight.shape[0]
    let out = Tensor.uninitialized([m, n])
    let po = out.mutablePointer
    if weight.dtype == .bf16 && weight.isContiguous {
        sgemmBF16(
            m: m, n: n, k: k, a: x.pointer, lda: k, w: weight.rawPointer.assumingMemoryBound(to: UInt16.self), ldw: k,
            beta: 0, c: po, ldc: n, bias: bias?.dense.pointer)
        return out
    }
    var beta: Float = 0
    if let bias {
        let bp = bias.dense.pointer
        Parallel.forRange(m, grain: Swift.max(1, (1 << 15) / Swift.max(n, 1))) { rows in
            for i in rows { (po + i * n).update(from: bp, count: n) }
        }
        beta = 1
    }
    // Inference with few rows: pack the weight once and keep it (see PackedWeight).
    if !GradMode.isEnabled && m > 1 && m <= 1024 && weight.dtype == .f32 && weight.isContiguous,
        let packed = weight.packedWeight()
    {
        sgemmPacked(m: m, alpha: 1, a: x.pointer, lda: k, packed: packed, beta: beta, c: po, ldc: n)
        return out
    }
    let w = weight.dense
    sgemm(
        transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: x.pointer, lda: k,
        b: w.pointer, ldb: k, beta: beta, c: po, ldc: n)
    return out
}

/// x · Wᵢᵀ (+ bᵢ) for one row x and several f32 or bf16 weights [nᵢ, k] that share it (q/k/v, gate/up
/// while decoding): all their rows are one parallel pass (`Parallel.forEachRowPiece`), so the
/// hand-off to the threads and their uneven finish are paid once, not once a matrix. Nil when this does not
/// apply (several rows, mixed or other dtypes, strided weights, or a gradient to record).
public func linearOneRow(_ x: Tensor, weights: [Tensor], biases: [Tensor?]) -> [Tensor]? {
    let k = x.shape.last ?? 0, dtype = weights.first?.dtype
    guard x.count == k, k > 0, dtype == .f32 || dtype == .bf16,
        weights.allSatisfy({ $0.rank == 2 && $0.shape[1] == k && $0.dtype == dtype && $0.isContiguous }),
        !needsGradient([x] + weights + biases.compactMap { $0 })
    else { return nil }
    let xd = x.dense
    let outputs = zip(weights, biases).map { w, bias in
        let out = Tensor.uninitialized(Array(x.shape.dropLast()) + [w.shape[0]])
        if let bias { out.mutablePointer.update(from: bias.dense.pointer, count: w.shape[0]) }
        return out
    }
    let pointers = weights.map { $0.rawPointer }, ys = outputs.map { $0.mutablePointer }
    let accumulate = biases.map { $0 != nil ? Int32(1) : 0 }
    Parallel.forEachRowPiece(weights.map { $0.shape[0] }) { i, j, rows in
        if dtype == .bf16 {
            ck_gemv_t_bf16_dot(
                rows, k, pointers[i].assumingMemoryBound(to: UInt16.self) + j * k, k, xd.pointer, ys[i] + j, 1,
                accumulate[i])
        } else {
            ck_gemv_t(
                rows, k, pointers[i].assumingMemoryBound(to: Float.self) + j * k, k, xd.pointer, ys[i] + j, 1,
                accumulate[i])
        }
    }
    return outputs
}
