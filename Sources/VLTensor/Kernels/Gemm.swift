/// Row-major single-precision GEMM: C = alpha · op(A) · op(B) + beta · C.
/// op(A) is [m, k]: A itself (lda ≥ k) or, with `transA`, Aᵀ of an A stored [k, m] (lda ≥ m).
/// op(B) is [k, n]: B itself (ldb ≥ n) or, with `transB`, Bᵀ of a B stored [n, k] (ldb ≥ k).
/// (PyTorch's Linear weight [out, in] is the `transB` case.)
public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    // Placeholder reference implementation; replaced by the packed, blocked kernel.
    Parallel.forRange(m, grain: 4) { rows in
        for i in rows {
            for j in 0..<n {
                var acc: Float = 0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    acc += av * bv
                }
                let old = beta == 0 ? 0 : beta * c[i * ldc + j]
                c[i * ldc + j] = alpha * acc + old
            }
        }
    }
}
