import CKernels

/// Row-major single-precision GEMM: C = alpha · op(A) · op(B) + beta · C.
/// op(A) is [m, k]: A itself (lda ≥ k) or, with `transA`, Aᵀ of an A stored [k, m] (lda ≥ m).
/// op(B) is [k, n]: B itself (ldb ≥ n) or, with `transB`, Bᵀ of a B stored [n, k] (ldb ≥ k).
/// (PyTorch's Linear weight [out, in] is the `transB` case.) With beta = 0, C is not read.
///
/// Goto-style blocking: B is packed in KC × NC blocks of NR-wide panels, A in MC × KC blocks of
/// MR-high panels, and the C micro-kernel (AVX-512 8×32, AVX2 6×16, portable 4×16) computes one
/// MR × NR tile per call. m = 1 (decode) goes to matrix-vector kernels instead.
public func sgemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    if m == 0 || n == 0 { return }
    if k == 0 || alpha == 0 {
        scaleRows(c, m: m, n: n, ldc: ldc, by: beta)
        return
    }
    if beta != 0 && beta != 1 { scaleRows(c, m: m, n: n, ldc: ldc, by: beta) }
    let accumulate = beta != 0
    if m == 1 {
        gemv(
            transA: transA, transB: transB, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
            y: c, accumulate: accumulate)
        return
    }
    GemmPlan(m: m, n: n, k: k).run(
        transA: transA, transB: transB, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
        c: c, ldc: ldc, accumulate: accumulate)
}

private func scaleRows(_ c: UnsafeMutablePointer<Float>, m: Int, n: Int, ldc: Int, by beta: Float) {
    for i in 0..<m {
        let row = c + i * ldc
        if beta == 0 { row.update(repeating: 0, count: n) } else { for j in 0..<n { row[j] *= beta } }
    }
}

/// y (+)= alpha · x · op(B) for one row x, split over threads by output columns.
private func gemv(
    transA: Bool, transB: Bool, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int, y: UnsafeMutablePointer<Float>, accumulate: Bool
) {
    // With transA the row of op(A) is a strided column of A: gather it first.
    var gathered: [Float] = []
    if transA && k > 1 && lda != 1 { gathered = (0..<k).map { a[$0 * lda] } }
    gathered.withUnsafeBufferPointer { g in
        let x = g.isEmpty ? a : g.baseAddress!
        if transB && n * k >= 1 << 16 {
            Parallel.forEachRowPiece([n]) { _, j, rows in
                ck_gemv_t(rows, k, b + j * ldb, ldb, x, y + j, alpha, accumulate ? 1 : 0)
            }
            return
        }
        let grain = Swift.max(64, (1 << 16) / Swift.max(k, 1))
        Parallel.forRange(n, grain: grain) { r in
            if transB {
                ck_gemv_t(r.count, k, b + r.lowerBound * ldb, ldb, x, y + r.lowerBound, alpha, accumulate ? 1 : 0)
            } else {
                ck_gemv_n(r.count, k, b + r.lowerBound, ldb, x, y + r.lowerBound, alpha, accumulate ? 1 : 0)
            }
        }
    }
}

/// Block sizes for one product and the packed loops over them.
struct GemmPlan {
    let m, n, k: Int
    let mr = ck_gemm_mr(), nr = ck_gemm_nr()
    // KC: a B panel (KC × NR) stays in L1; MC: an A block (MC × KC) stays in L2.
    // Measured on Zen 5 (48 KB L1d, 1 MB L2): a B panel KC × NR stays in L1/L2, an A block MC × KC in L2.
    let kc: Int
    var mc: Int { mr * 16 }
    let nc = 3072

    init(m: Int, n: Int, k: Int) {
        (self.m, self.n, self.k) = (m, n, k)
        let blocks = (k + 511) / 512  // K in even blocks of at most 512
        kc = roundUp((k + blocks - 1) / blocks, 8)
    }

    func run(
        transA: Bool, transB: Bool, alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
    ) {
        run(transA: transA, alpha: alpha, a: a, lda: lda, c: c, ldc: ldc, accumulate: accumulate) {
            p0, kc, j0, nc, dst in
            packB(transB: transB, b: b, ldb: ldb, p0: p0, kc: kc, j0: j0, nc: nc, into: dst)
        }
    }

    /// The blocked loops with any source of packed B blocks: `pack(p0, kc, j0, nc, into)` fills
    /// the NR-wide panels of op(B)[p0..<p0+kc, j0..<j0+nc].
    func run(
        transA: Bool, alpha: Float, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
        accumulate: Bool, pack: (Int, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void
    ) {
        let packedB = UnsafeMutablePointer<Float>.allocate(capacity: kc * roundUp(Swift.min(nc, n), nr))
        defer { packedB.deallocate() }
        var jc = 0
        while jc < n {
            let ncb = Swift.min(nc, n - jc)
            var pc = 0
            while pc < k {
                let kcb = Swift.min(kc, k - pc)
                pack(pc, kcb, jc, ncb, packedB)
                multiplyBlock(
                    transA: transA, alpha: alpha, a: a, lda: lda, p0: pc, kc: kcb, packedB: packedB,
                    j0: jc, nc: ncb, c: c, ldc: ldc, accumulate: accumulate || pc > 0)
                pc += kcb
            }
            jc += ncb
        }
    }

    /// C[:, j0..<j0+nc] (+)= alpha · op(A)[:, p0..<p0+kc] · packedB. The product is cut into tasks of
    /// row blocks × column-panel groups, at least eight a thread, that threads take one at a time: the
    /// last task to finish is short, so no thread waits long for another (a row-only split of a
    /// 256-row weight gradient left one of two threads idle a fifth of the time).
    func multiplyBlock(
        transA: Bool, alpha: Float, a: UnsafePointer<Float>, lda: Int, p0: Int, kc: Int,
        packedB: UnsafePointer<Float>, j0: Int, nc: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
    ) {
        let panels = (nc + nr - 1) / nr
        let small = Double(m) * Double(nc) * Double(kc) < 2e5
        let threads = Parallel.isInsideParallelRegion || small ? 1 : Parallel.threadCount
        let minTasks = threads == 1 ? 1 : 8 * threads
        let rowBlock = Swift.min(mc, roundUp((m + minTasks - 1) / minTasks, mr))
        let rowBlocks = (m + rowBlock - 1) / rowBlock
        let groups = Swift.min(panels, (minTasks + rowBlocks - 1) / rowBlocks)
        Parallel.forEachTask(rowBlocks * groups) { task in
            let packedA = UnsafeMutablePointer<Float>.allocate(capacity: mc * kc)
            defer { packedA.deallocate() }
            let (block, group) = (task / groups, task % groups)
            self.multiplyRows(
                block * rowBlock..<Swift.min(self.m, (block + 1) * rowBlock),
                panels: (panels * group / groups)..<(panels * (group + 1) / groups),
                transA: transA, alpha: alpha, a: a, lda: lda, p0: p0, kc: kc, packedB: packedB, j0: j0, nc: nc,
                c: c, ldc: ldc, accumulate: accumulate, packedA: packedA)
        }
    }

    /// C[rows, panels] (+)= op(A)[rows, p0..<p0+kc] · packedB[panels], packing A in MC-row blocks.
    private func multiplyRows(
        _ rows: Range<Int>, panels cols: Range<Int>, transA: Bool, alpha: Float, a: UnsafePointer<Float>,
        lda: Int, p0: Int, kc: Int, packedB: UnsafePointer<Float>, j0: Int, nc: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, packedA: UnsafeMutablePointer<Float>
    ) {
        var i0 = rows.lowerBound
        while i0 < rows.upperBound {
            let mcb = Swift.min(mc, rows.upperBound - i0)
            packA(transA: transA, a: a, lda: lda, i0: i0, mc: mcb, p0: p0, kc: kc, into: packedA)
            for panel in cols {
                let jr = panel * nr, nrb = Swift.min(nr, nc - jr)
                var ir = 0
                while ir < mcb {
                    let mrb = Swift.min(mr, mcb - ir)
                    ck_gemm_micro(
                        kc, packedA + ir * kc, packedB + jr * kc, c + (i0 + ir) * ldc + j0 + jr, ldc,
                        mrb, nrb, accumulate ? 1 : 0, alpha)
                    ir += mr
                }
            }
            i0 += mcb
        }
    }

    /// Packs op(A)[i0..<i0+mc, p0..<p0+kc] into MR-high panels laid out [panel][p][MR], zero-padded.
    private func packA(
        transA: Bool, a: UnsafePointer<Float>, lda: Int, i0: Int, mc: Int, p0: Int, kc: Int,
        into dst: UnsafeMutablePointer<Float>
    ) {
        var ir = 0
        while ir < mc {
            let rows = Swift.min(mr, mc - ir)
            let panel = dst + ir * kc
            if transA {
                ck_pack_a_trans(a + p0 * lda + i0 + ir, lda, rows, kc, panel)
            } else if lda < (1 << 26) {  // 32-bit gather offsets
                ck_pack_a(a + (i0 + ir) * lda + p0, lda, rows, kc, panel)
            } else {
                if rows < mr { panel.update(repeating: 0, count: mr * kc) }
                let src = a + (i0 + ir) * lda + p0
                for p in 0..<kc {
                    let out = panel + p * mr
                    for ii in 0..<rows { out[ii] = src[ii * lda + p] }
                }
            }
            ir += mr
        }
    }

    /// Packs op(B)[p0..<p0+kc, j0..<j0+nc] into NR-wide panels laid out [panel][p][NR], zero-padded.
    func packB(
        transB: Bool, b: UnsafePointer<Float>, ldb: Int, p0: Int, kc: Int, j0: Int, nc: Int,
        into dst: UnsafeMutablePointer<Float>
    ) {
        let panels = (nc + nr - 1) / nr
        Parallel.forRange(panels, grain: Swift.max(1, 16384 / Swift.max(kc * nr, 1))) { range in
            for panelIndex in range {
                let jr = panelIndex * nr, cols = Swift.min(nr, nc - jr)
                let panel = dst + jr * kc
                if cols < nr && transB && ldb >= (1 << 26) { panel.update(repeating: 0, count: nr * kc) }
                if transB && ldb < (1 << 26) {
                    ck_pack_b_trans(b + (j0 + jr) * ldb + p0, ldb, kc, cols, panel)
                } else if transB {
                    for jj in 0..<cols {
                        let src = b + (j0 + jr + jj) * ldb + p0
                        for p in 0..<kc { panel[p * nr + jj] = src[p] }
                    }
                } else {
                    ck_pack_b_rows(b + p0 * ldb + j0 + jr, ldb, kc, cols, panel)
                }
            }
        }
    }
}

@inline(__always) func roundUp(_ x: Int, _ m: Int) -> Int { (x + m - 1) / m * m }

/// Thread `t`'s rows and column panels: equal row ranges (multiples of `mr`) when there are
/// enough rows for every thread, otherwise all rows and an equal range of panels.
func threadShare(_ t: Int, of threads: Int, m: Int, mr: Int, panels: Int) -> (rows: Range<Int>, panels: Range<Int>) {
    guard m >= threads * mr * 4 else { return (0..<m, (panels * t / threads)..<(panels * (t + 1) / threads)) }
    let start = m * t / threads / mr * mr, end = t == threads - 1 ? m : m * (t + 1) / threads / mr * mr
    return (start..<end, 0..<panels)
}
