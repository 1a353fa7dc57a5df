import CKernels

/// C = alpha · A · Wᵀ + beta · C with bf16 weights W stored [n, k] (PyTorch's Linear layout) and
/// f32 activations A [m, k]. With AVX512_BF16 the activations are rounded to bf16 and the
/// products run on `vdpbf16ps` (relative error ~1e-3), also for m = 1 (GEMV); elsewhere the
/// weights are widened to f32 (exactly). `bias` [n] (only with beta = 0) is added to every row.
public func sgemmBF16(
    m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
    w: UnsafePointer<UInt16>, ldw: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int,
    bias: UnsafePointer<Float>? = nil
) {
    if m == 0 || n == 0 { return }
    precondition(bias == nil || beta == 0, "a bias goes with beta = 0")
    let dotProducts = ck_has_bf16_dot() != 0 && k % 2 == 0 && ldw % 2 == 0 && k > 0
    if let bias, !(m >= 32 && dotProducts) {
        // Paths without a bias in their kernel: start from the bias and accumulate.
        Parallel.forRange(m, grain: Swift.max(1, (1 << 15) / n)) { rows in
            for i in rows { (c + i * ldc).update(from: bias, count: n) }
        }
        sgemmBF16(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, w: w, ldw: ldw, beta: 1, c: c, ldc: ldc)
        return
    }
    if m == 1 {
        if beta != 0 && beta != 1 { for j in 0..<n { c[j] *= beta } }
        Parallel.forEachRowPiece([n]) { _, j, rows in
            ck_gemv_t_bf16_dot(rows, k, w + j * ldw, ldw, a, c + j, alpha, beta == 0 ? 0 : 1)
        }
        return
    }
    guard dotProducts else {
        let wide = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
        defer { wide.deallocate() }
        for j in 0..<n { for p in 0..<k { wide[j * k + p] = bf16ToFloat(w[j * ldw + p]) } }
        sgemm(
            transA: false, transB: true, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: wide, ldb: k,
            beta: beta, c: c, ldc: ldc)
        return
    }
    if beta != 0 && beta != 1 { for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } } }
    if m >= 32 {
        weightStreamingBF16(
            m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, w: w, ldw: ldw, c: c, ldc: ldc, accumulate: beta != 0,
            bias: bias)
        return
    }
    BF16GemmPlan(m: m, n: n, k: k).run(
        alpha: alpha, a: a, lda: lda, w: w, ldw: ldw, c: c, ldc: ldc, accumulate: beta != 0)
}

/// Prefill shapes (m ≥ 32, k even): the weights are read where they are stored and never packed —
/// they are the broadcast operand of 32 × 12 tiles — and the activations are packed once into
/// 32-row panels of bf16 pairs. A thread runs each 12-row weight strip it takes over every panel, so
/// a strip is read from memory once and then from cache. The bias is added as the tiles are stored.
func weightStreamingBF16(
    m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, w: UnsafePointer<UInt16>, ldw: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, bias: UnsafePointer<Float>?
) {
    let kq = k / 2, panels = (m + 31) / 32
    let packed = UnsafeMutablePointer<UInt32>.allocate(capacity: panels * kq * 32)
    defer { packed.deallocate() }
    Parallel.forRange(panels) { r in
        for p in r { ck_pack_at_bf16(a + p * 32 * lda, lda, Swift.min(32, m - p * 32), k, packed + p * kq * 32) }
    }
    // Tasks of one or a few strips, taken one at a time: the threads finish within a strip of each
    // other, and a thread the OS preempts delays the product by one short task.
    let strips = (n + 11) / 12, tasks = Swift.min(strips, 64 * Parallel.threadCount)
    Parallel.forEachTask(tasks) { task in
        for s in strips * task / tasks..<strips * (task + 1) / tasks {
            let j0 = s * 12
            for p in 0..<panels {
                ck_gemm_wt_bf16(
                    kq, packed + p * kq * 32, w + j0 * ldw, ldw, Swift.min(12, n - j0), c + p * 32 * ldc + j0, ldc,
                    Swift.min(32, m - p * 32), accumulate ? 1 : 0, alpha, bias.map { $0 + j0 })
            }
        }
    }
}

/// The bf16 counterpart of `GemmPlan`: panels of 32-bit bf16 pairs, 12 × 32 tiles.
struct BF16GemmPlan {
    let m, n, k: Int
    let mr = 12, nr = 32, mc = 192, nc = 3072
    let kc: Int  // even

    init(m: Int, n: Int, k: Int) {
        (self.m, self.n, self.k) = (m, n, k)
        let blocks = (k + 511) / 512
        kc = roundUp((k + blocks - 1) / blocks, 2)
    }

    func run(
        alpha: Float, a: UnsafePointer<Float>, lda: Int, w: UnsafePointer<UInt16>, ldw: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
    ) {
        let packedB = UnsafeMutablePointer<UInt32>.allocate(capacity: kc / 2 * roundUp(Swift.min(nc, n), nr))
        defer { packedB.deallocate() }
        var jc = 0
        while jc < n {
            let ncb = Swift.min(nc, n - jc)
            var pc = 0
            while pc < k {
                let kcb = Swift.min(kc, k - pc)
                let panels = (ncb + nr - 1) / nr
                Parallel.forRange(panels, grain: 4) { r in
                    for panel in r {
                        let j = panel * nr
                        ck_pack_b_bf16(w + (jc + j) * ldw + pc, ldw, kcb, Swift.min(nr, ncb - j), packedB + j * kcb / 2)
                    }
                }
                multiply(
                    alpha: alpha, a: a + pc, lda: lda, kc: kcb, packedB: packedB, j0: jc, nc: ncb, c: c, ldc: ldc,
                    accumulate: accumulate || pc > 0)
                pc += kcb
            }
            jc += ncb
        }
    }

    private func multiply(
        alpha: Float, a: UnsafePointer<Float>, lda: Int, kc: Int, packedB: UnsafePointer<UInt32>,
        j0: Int, nc: Int, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
    ) {
        let panels = (nc + nr - 1) / nr, kq = kc / 2
        let threads = Parallel.isInsideParallelRegion ? 1 : Parallel.threadCount
        Parallel.forRange(threads) { tasks in
            let packedA = UnsafeMutablePointer<UInt32>.allocate(capacity: mc * kq)
            defer { packedA.deallocate() }
            for t in tasks {
                let (rows, cols) = threadShare(t, of: threads, m: m, mr: mr, panels: panels)
                var i0 = rows.lowerBound
                while i0 < rows.upperBound {
                    let mcb = Swift.min(mc, rows.upperBound - i0)
                    var ir = 0
                    while ir < mcb {
                        ck_pack_a_bf16(a + (i0 + ir) * lda, lda, Swift.min(mr, mcb - ir), kc, packedA + ir * kq)
                        ir += mr
                    }
                    for panel in cols {
                        let jr = panel * nr
                        ir = 0
                        while ir < mcb {
                            ck_gemm_micro_bf16(
                                kq, packedA + ir * kq, packedB + jr * kq, c + (i0 + ir) * ldc + j0 + jr, ldc,
                                Swift.min(mr, mcb - ir), Swift.min(nr, nc - jr), accumulate ? 1 : 0, alpha)
                            ir += mr
                        }
                    }
                    i0 += mcb
                }
            }
        }
    }
}
