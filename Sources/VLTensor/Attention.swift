import CKernels
import Foundation

// Scaled dot-product attention. The forward pass walks key blocks with an online softmax, so no
// more than a [queryBlock, keyBlock] tile of scores exists at once; it keeps each row's
// log-sum-exp for the backward pass, which recomputes the probabilities one head at a time.

/// softmax(q·kᵀ·scale + mask)·v for q [B, H, Lq, D], k [B, Hkv, Lk, D], v [B, Hkv, Lk, Dv] → [B, H, Lq, Dv].
/// - `causal`: query i sees keys j ≤ i + (Lk − Lq) (bottom-right aligned, as in cached decoding).
/// - `mask`: additive, broadcastable to [B, H, Lq, Lk] (treated as a constant).
/// - `keyPadding`: [B, Lk], non-zero = keep.
/// - grouped KV heads: head h reads KV head h / (H / Hkv).
/// Rows that see no key give zeros.
/// - `bf16Products`: with AVX512_BF16, q·kᵀ and p·v run on bf16 dot products (q, k, v and the
///   probabilities rounded to bf16), as in a PyTorch model cast to bf16; for models holding bf16 weights.
public func scaledDotProductAttention(
    _ q: Tensor, _ k: Tensor, _ v: Tensor, causal: Bool = false,
    mask: Tensor? = nil, keyPadding: Tensor? = nil, scale: Float? = nil,
    bf16Products: Bool = false
) -> Tensor {
    precondition(q.rank == 4 && k.rank == 4 && v.rank == 4, "attention expects [B, H, L, D] tensors")
    let p = AttentionProblem(
        q: q, k: k, v: v, causal: causal, mask: mask, keyPadding: keyPadding, scale: scale,
        bf16Products: bf16Products)
    let (out, lse) = p.forward()
    return record(out, [q, k, v]) { g in
        let (gq, gk, gv) = p.backward(out: out, lse: lse, gradOut: g.dense)
        return [gq, gk, gv]
    }
}

/// A [B, H, L, D] operand read in place: f32 with a contiguous last dimension, any other strides.
struct HeadMatrices {
    let tensor: Tensor
    let batchStride, headStride, rowStride: Int

    init(_ t: Tensor) {
        let f = t.dtype == .f32 && t.strides[3] == 1 ? t : t.materialize(as: .f32)
        tensor = f
        (batchStride, headStride, rowStride) = (f.strides[0], f.strides[1], f.strides[2])
    }

    /// First row of head (b, h).
    @inline(__always) func head(_ b: Int, _ h: Int) -> UnsafePointer<Float> {
        UnsafePointer(tensor.storage.base.assumingMemoryBound(to: Float.self)) + tensor.offset + b * batchStride + h
            * headStride
    }
}

struct AttentionProblem {
    let q, k, v: HeadMatrices
    let b, h, hkv, lq, lk, d, dv: Int
    let scale: Float
    let causal: Bool
    let mask: Tensor?
    let maskStrides: [Int]
    let keep: [Float]?  // [B * Lk], 1 keep / 0 drop
    let bf16Products: Bool

    static let queryBlock = 32, keyBlock = 128

    init(
        q: Tensor, k: Tensor, v: Tensor, causal: Bool, mask: Tensor?, keyPadding: Tensor?, scale: Float?,
        bf16Products: Bool = false
    ) {
        (self.q, self.k, self.v) = (HeadMatrices(q), HeadMatrices(k), HeadMatrices(v))
        (b, h, lq, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        (hkv, lk, dv) = (k.shape[1], k.shape[2], v.shape[3])
        precondition(
            k.shape[0] == b && v.shape[0] == b && k.shape[3] == d && v.shape[1] == hkv && v.shape[2] == lk,
            "attention shapes q \(q.shape), k \(k.shape), v \(v.shape) do not fit")
        precondition(h % hkv == 0, "\(h) query heads are not a multiple of \(hkv) key/value heads")
        self.scale = scale ?? 1 / Float(d).squareRoot()
        self.causal = causal
        self.bf16Products = bf16Products && ck_has_bf16_dot() != 0 && d % 2 == 0
        if let mask {
            let m = mask.dense
            self.mask = m
            maskStrides = m.broadcastStrides(to: [b, h, lq, lk])
        } else {
            self.mask = nil
            maskStrides = []
        }
        if let keyPadding {
            precondition(keyPadding.shape == [b, lk], "key padding mask \(keyPadding.shape) is not [\(b), \(lk)]")
            keep = keyPadding.toArray().map { $0 != 0 ? 1 : 0 }
        } else {
            keep = nil
        }
    }

    /// Number of keys query row i may see (causal limit), all keys otherwise.
    @inline(__always) func visibleKeys(_ i: Int) -> Int { causal ? Swift.min(lk, Swift.max(0, i + lk - lq + 1)) : lk }

    /// Whether any score needs masking (otherwise the scaled scores are used as they are).
    var isMasked: Bool { causal || mask != nil || keep != nil }

    /// Adds masks and the causal limit to a (scaled) score tile [rows, cols] starting at (i0, j0).
    @inline(__always)
    func prepareScores(
        _ s: UnsafeMutablePointer<Float>, ld: Int, bi: Int, hi: Int, i0: Int, rows: Int, j0: Int, cols: Int
    ) {
        guard isMasked else { return }
        let mp = mask?.pointer
        for r in 0..<rows {
            let i = i0 + r, row = s + r * ld
            let limit = visibleKeys(i) - j0
            for c in 0..<cols {
                var x = row[c]
                if let mp {
                    x += mp[bi * maskStrides[0] + hi * maskStrides[1] + i * maskStrides[2] + (j0 + c) * maskStrides[3]]
                }
                if c >= limit { x = -.infinity }
                if let keep, keep[bi * lk + j0 + c] == 0 { x = -.infinity }
                row[c] = x
            }
        }
    }

    func forward() -> (Tensor, Tensor) {
        if bf16Products { return forwardBF16() }
        let out = Tensor.uninitialized([b, h, lq, dv])
        let lse = Tensor.uninitialized([b, h, lq])
        let qb = AttentionProblem.queryBlock, kb = AttentionProblem.keyBlock
        let qBlocks = (lq + qb - 1) / qb
        let tasks = b * h * qBlocks
        Parallel.forRange(tasks) { range in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: qb * kb)
            let acc = UnsafeMutablePointer<Float>.allocate(capacity: qb * dv)
            var rowMax = [Float](repeating: 0, count: qb), rowSum = [Float](repeating: 0, count: qb)
            defer { scores.deallocate(); acc.deallocate() }
            for t in range {
                let qi = t % qBlocks, hi = (t / qBlocks) % h, bi = t / (qBlocks * h)
                let kvh = hi / (h / hkv)
                let i0 = qi * qb, rows = Swift.min(qb, lq - i0)
                let qp = q.head(bi, hi) + i0 * q.rowStride
                let kp = k.head(bi, kvh), vp = v.head(bi, kvh)
                acc.update(repeating: 0, count: rows * dv)
                for r in 0..<rows { rowMax[r] = -.infinity; rowSum[r] = 0 }
                let keyEnd = visibleKeys(i0 + rows - 1)
                var j0 = 0
                while j0 < keyEnd {
                    let cols = Swift.min(kb, keyEnd - j0)
                    sgemm(
                        transA: false, transB: true, m: rows, n: cols, k: d, alpha: scale, a: qp, lda: q.rowStride,
                        b: kp + j0 * k.rowStride, ldb: k.rowStride, beta: 0, c: scores, ldc: kb)
                    prepareScores(scores, ld: kb, bi: bi, hi: hi, i0: i0, rows: rows, j0: j0, cols: cols)
                    for r in 0..<rows {
                        let row = scores + r * kb
                        let m = Swift.max(rowMax[r], ck_max(row, cols))
                        if m == -.infinity {
                            for c in 0..<cols { row[c] = 0 }
                            continue
                        }
                        let correction = rowMax[r] == -.infinity ? 0 : Foundation.exp(rowMax[r] - m)
                        let s = ck_exp_shift_sum(row, row, cols, m)
                        rowSum[r] = rowSum[r] * correction + s
                        rowMax[r] = m
                        if correction != 1 { for c in 0..<dv { acc[r * dv + c] *= correction } }
                    }
                    sgemm(
                        transA: false, transB: false, m: rows, n: dv, k: cols, alpha: 1, a: scores, lda: kb,
                        b: vp + j0 * v.rowStride, ldb: v.rowStride, beta: 1, c: acc, ldc: dv)
                    j0 += cols
                }
                let op = out.mutablePointer + ((bi * h + hi) * lq + i0) * dv
                let lp = lse.mutablePointer + (bi * h + hi) * lq + i0
                for r in 0..<rows {
                    let inv: Float = rowSum[r] > 0 ? 1 / rowSum[r] : 0
                    for c in 0..<dv { op[r * dv + c] = acc[r * dv + c] * inv }
                    lp[r] = rowSum[r] > 0 ? rowMax[r] + Foundation.log(rowSum[r]) : .infinity
                }
            }
        }
        return (out, lse)
    }

    /// The bf16 forward pass, a head per task. The head's keys and vᵀ are packed once as 32-lane panels
    /// of bf16 pairs; then for each 12 queries (rounded to bf16) the score rows come from the
    /// weight-streaming kernel with the keys in the lanes (stored as they are, no transpose), a
    /// softmax, and p · v the same way with v's channels in the lanes.
    private func forwardBF16() -> (Tensor, Tensor) {
        let out = Tensor.uninitialized([b, h, lq, dv])
        let lse = Tensor.uninitialized([b, h, lq])
        let strip = 12, lkPad = (lk + 1) / 2 * 2, kq = d / 2, vq = lkPad / 2
        let keyPanels = (lk + 31) / 32, valuePanels = (dv + 31) / 32
        Parallel.forEachTask(b * h) { t in
            let bi = t / h, hi = t % h, kvh = hi / (h / hkv)
            let packedK = UnsafeMutablePointer<UInt32>.allocate(capacity: keyPanels * kq * 32)
            let packedV = UnsafeMutablePointer<UInt32>.allocate(capacity: valuePanels * vq * 32)
            let queries = UnsafeMutablePointer<UInt16>.allocate(capacity: lq * d)
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: strip * lkPad)
            let probabilities = UnsafeMutablePointer<UInt16>.allocate(capacity: strip * lkPad)
            defer {
                packedK.deallocate(); packedV.deallocate(); queries.deallocate(); scores.deallocate();
                probabilities.deallocate()
            }
            let kp = k.head(bi, kvh), vp = v.head(bi, kvh)
            for p in 0..<keyPanels {
                ck_pack_at_bf16(
                    kp + p * 32 * k.rowStride, k.rowStride, Swift.min(32, lk - p * 32), d, packedK + p * kq * 32)
            }
            for p in 0..<valuePanels {
                ck_pack_bt_bf16(vp + p * 32, v.rowStride, lk, Swift.min(32, dv - p * 32), packedV + p * vq * 32)
            }
            ck_round_bf16(q.head(bi, hi), q.rowStride, lq, d, queries, d)
            for i0 in stride(from: 0, to: lq, by: strip) {
                let rows = Swift.min(strip, lq - i0), keyEnd = visibleKeys(i0 + rows - 1)
                for p in 0..<(keyEnd + 31) / 32 {
                    ck_gemm_wt_bf16_direct(
                        kq, packedK + p * kq * 32, queries + i0 * d, d, rows, scores + p * 32, lkPad,
                        Swift.min(32, keyEnd - p * 32), 0, scale)
                }
                prepareScores(scores, ld: lkPad, bi: bi, hi: hi, i0: i0, rows: rows, j0: 0, cols: keyEnd)
                var total = [Float](repeating: 0, count: rows)
                let lp = lse.mutablePointer + (bi * h + hi) * lq + i0
                for r in 0..<rows {
                    let row = scores + r * lkPad
                    let m = ck_max(row, keyEnd)
                    if m == -.infinity {
                        row.update(repeating: 0, count: lkPad)
                        lp[r] = .infinity
                        continue
                    }
                    total[r] = ck_exp_shift_sum(row, row, keyEnd, m)
                    (row + keyEnd).update(repeating: 0, count: lkPad - keyEnd)
                    lp[r] = m + Foundation.log(total[r])
                }
                ck_round_bf16(scores, lkPad, rows, lkPad, probabilities, lkPad)
                let op = out.mutablePointer + ((bi * h + hi) * lq + i0) * dv
                for p in 0..<valuePanels {
                    ck_gemm_wt_bf16_direct(
                        vq, packedV + p * vq * 32, probabilities, lkPad, rows, op + p * 32, dv,
                        Swift.min(32, dv - p * 32), 0, 1)
                }
                for r in 0..<rows {
                    let inv: Float = total[r] > 0 ? 1 / total[r] : 0
                    for c in 0..<dv { op[r * dv + c] *= inv }
                }
            }
        }
        return (out, lse)
    }

    /// Gradients for q, k, v; parallel over (batch, KV head) so grouped heads never race.
    func backward(out: Tensor, lse: Tensor, gradOut: Tensor) -> (Tensor, Tensor, Tensor) {
        let gq = Tensor.uninitialized(q.tensor.shape), gk = Tensor.zeros(k.tensor.shape),
            gv = Tensor.zeros(v.tensor.shape)
        let group = h / hkv
        Parallel.forRange(b * hkv) { range in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: lq * lk)
            let dp = UnsafeMutablePointer<Float>.allocate(capacity: lq * lk)
            defer { p.deallocate(); dp.deallocate() }
            for t in range {
                let bi = t / hkv, kvh = t % hkv
                let kp = k.head(bi, kvh), vp = v.head(bi, kvh)
                let (ldq, ldk, ldv) = (q.rowStride, k.rowStride, v.rowStride)
                let gkp = gk.mutablePointer + (bi * hkv + kvh) * lk * d
                let gvp = gv.mutablePointer + (bi * hkv + kvh) * lk * dv
                for hi in kvh * group..<(kvh + 1) * group {
                    let base = (bi * h + hi) * lq
                    let qp = q.head(bi, hi), op = out.pointer + base * dv, gop = gradOut.pointer + base * dv
                    let lp = lse.pointer + base
                    // P = exp(S − lse)
                    sgemm(
                        transA: false, transB: true, m: lq, n: lk, k: d, alpha: scale, a: qp, lda: ldq, b: kp, ldb: ldk,
                        beta: 0, c: p, ldc: lk)
                    prepareScores(p, ld: lk, bi: bi, hi: hi, i0: 0, rows: lq, j0: 0, cols: lk)
                    for i in 0..<lq {
                        let row = p + i * lk
                        if lp[i] == .infinity {
                            row.update(repeating: 0, count: lk)
                        } else {
                            _ = ck_exp_shift_sum(row, row, lk, lp[i])
                        }
                    }
                    // dV += Pᵀ dO;  dP = dO Vᵀ
                    sgemm(
                        transA: true, transB: false, m: lk, n: dv, k: lq, alpha: 1, a: p, lda: lk, b: gop, ldb: dv,
                        beta: 1, c: gvp, ldc: dv)
                    sgemm(
                        transA: false, transB: true, m: lq, n: lk, k: dv, alpha: 1, a: gop, lda: dv, b: vp, ldb: ldv,
                        beta: 0, c: dp, ldc: lk)
                    // dS = P ∘ (dP − rowsum(dO ∘ O))
                    for i in 0..<lq {
                        var delta: Float = 0
                        for c in 0..<dv { delta += gop[i * dv + c] * op[i * dv + c] }
                        for j in 0..<lk { dp[i * lk + j] = p[i * lk + j] * (dp[i * lk + j] - delta) }
                    }
                    // dQ = dS K · scale;  dK += dSᵀ Q · scale
                    sgemm(
                        transA: false, transB: false, m: lq, n: d, k: lk, alpha: scale, a: dp, lda: lk, b: kp, ldb: ldk,
                        beta: 0, c: gq.mutablePointer + base * d, ldc: d)
                    sgemm(
                        transA: true, transB: false, m: lk, n: d, k: lq, alpha: scale, a: dp, lda: lk, b: qp, ldb: ldq,
                        beta: 1, c: gkp, ldc: d)
                }
            }
        }
        return (gq, gk, gv)
    }
}
