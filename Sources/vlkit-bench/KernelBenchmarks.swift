import CKernels
import Foundation
import VLTensor

/// GEMM, GEMV, memory bandwidth and op throughput cases (peer: numpy); inputs are made only for
/// the cases `wants` names.
func kernelBenchmarks(quick: Bool, wants: (String) -> Bool = { _ in true }) -> [BenchCase] {
    var rng = RandomGenerator(seed: 1)
    func gemmCase(_ name: String, m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool) -> BenchCase? {
        guard wants(name) else { return nil }
        let a = Tensor.randn(transA ? [k, m] : [m, k], rng: &rng),
            b = Tensor.randn(transB ? [n, k] : [k, n], rng: &rng)
        let c = Tensor.zeros([m, n])
        return BenchCase(
            name: name, unit: "GFLOP/s", work: 2 * Double(m) * Double(n) * Double(k) / 1e9,
            body: {
                sgemm(
                    transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, a: a.pointer, lda: transA ? m : k,
                    b: b.pointer,
                    ldb: transB ? k : n, beta: 0, c: c.mutablePointer, ldc: n)
            }, peer: name)
    }
    var cases = [
        gemmCase("gemm_f32_1024", m: 1024, n: 1024, k: 1024, transB: false),
        gemmCase("gemm_f32_50x768x3072", m: 50, n: 3072, k: 768, transB: true),
        gemmCase("gemm_f32_577x1024x4096", m: 577, n: 4096, k: 1024, transB: true),
        // The small CLIP training step's MLP (batch 32 × 77 tokens, width 256, MLP 1024):
        // forward x·Wᵀ, backward dY·W, and the weight gradient dYᵀ·x.
        gemmCase("gemm_f32_train_fwd_2464x256x1024", m: 2464, n: 1024, k: 256, transB: true),
        gemmCase("gemm_f32_train_dx_2464x1024x256", m: 2464, n: 256, k: 1024, transB: false),
        gemmCase("gemm_f32_train_dw_1024x2464x256", m: 1024, n: 256, k: 2464, transA: true, transB: false),
    ].compactMap { $0 }
    if !quick, let big = gemmCase("gemm_f32_2048", m: 2048, n: 2048, k: 2048, transB: false) {
        cases.insert(big, at: Swift.min(1, cases.count))
    }
    cases += bf16Benchmarks(quick: quick).filter { wants($0.name) }
    let rest = [
        "gemv_f32_4096", "gemv_bf16_4096", "memory_read_bandwidth", "softmax_64x4096", "layer_norm_64x4096",
        "gelu_tanh_64x4096", "attention_577x16x64",
    ]
    guard rest.contains(where: wants) else { return cases }

    let w = Tensor.randn([4096, 4096], rng: &rng), x = Tensor.randn([1, 4096], rng: &rng), y = Tensor.zeros([1, 4096])
    cases.append(
        BenchCase(
            name: "gemv_f32_4096", unit: "GB/s", work: 4096.0 * 4096 * 4 / 1e9,
            body: {
                sgemm(
                    transA: false, transB: true, m: 1, n: 4096, k: 4096, alpha: 1, a: x.pointer, lda: 4096,
                    b: w.pointer,
                    ldb: 4096, beta: 0, c: y.mutablePointer, ldc: 4096)
            }, peer: "gemv_f32_4096"))
    let wb = w.to(.bf16)
    cases.append(
        BenchCase(
            name: "gemv_bf16_4096", unit: "GB/s", work: 4096.0 * 4096 * 2 / 1e9,
            body: {
                let wp = wb.rawPointer.assumingMemoryBound(to: UInt16.self)
                Parallel.forRange(4096, grain: 256) { r in
                    ck_gemv_t_bf16_dot(
                        r.count, 4096, wp + r.lowerBound * 4096, 4096, x.pointer, y.mutablePointer + r.lowerBound, 1, 0)
                }
            }, peer: nil))
    let big = Tensor.randn([32 << 20], rng: &rng)  // 128 MB, far beyond the caches
    cases.append(
        BenchCase(
            name: "memory_read_bandwidth", unit: "GB/s", work: Double(big.count) * 4 / 1e9,
            body: {
                let p = big.pointer
                var partial = [Float](repeating: 0, count: Parallel.threadCount)
                partial.withUnsafeMutableBufferPointer { out in
                    Parallel.forRange(Parallel.threadCount) { r in
                        for t in r {
                            let lo = big.count * t / Parallel.threadCount,
                                hi = big.count * (t + 1) / Parallel.threadCount
                            out[t] = ck_sum(p + lo, hi - lo)
                        }
                    }
                }
            }, peer: "memory_read_bandwidth"))

    let act = Tensor.randn([64, 4096], rng: &rng)
    let elems = Double(act.count) / 1e9
    cases.append(
        BenchCase(
            name: "softmax_64x4096", unit: "Gelem/s", work: elems, body: { _ = noGrad { act.softmax(-1) } },
            peer: "softmax_64x4096"))
    let lnW = Tensor.ones([4096]), lnB = Tensor.zeros([4096])
    cases.append(
        BenchCase(
            name: "layer_norm_64x4096", unit: "Gelem/s", work: elems,
            body: {
                _ = noGrad { layerNorm(act, weight: lnW, bias: lnB, eps: 1e-5) }
            }, peer: "layer_norm_64x4096"))
    cases.append(
        BenchCase(
            name: "gelu_tanh_64x4096", unit: "Gelem/s", work: elems, body: { _ = noGrad { act.geluTanh() } },
            peer: "gelu_tanh_64x4096"))
    let q = Tensor.randn([1, 16, 577, 64], rng: &rng), kv = Tensor.randn([1, 16, 577, 64], rng: &rng)
    cases.append(
        BenchCase(
            name: "attention_577x16x64", unit: "GFLOP/s", work: 4 * 16 * 577 * 577 * 64 / 1e9,
            body: {
                _ = noGrad { scaledDotProductAttention(q, kv, kv) }
            }, peer: "attention_577x16x64"))
    return cases
}

/// bf16-weight GEMM cases; the bar is OpenBLAS f32 on the same shape.
func bf16Benchmarks(quick: Bool) -> [BenchCase] {
    var rng = RandomGenerator(seed: 2)
    return (quick ? [1024] : [1024, 2048]).map { s in
        let a = Tensor.randn([s, s], rng: &rng), w = Tensor.randn([s, s], rng: &rng).to(.bf16),
            c = Tensor.zeros([s, s])
        return BenchCase(
            name: "gemm_bf16_\(s)", unit: "GFLOP/s", work: 2 * pow(Double(s), 3) / 1e9,
            body: {
                sgemmBF16(
                    m: s, n: s, k: s, a: a.pointer, lda: s, w: w.rawPointer.assumingMemoryBound(to: UInt16.self),
                    ldw: s,
                    beta: 0, c: c.mutablePointer, ldc: s)
            }, peer: "gemm_bf16_\(s)")
    }
}
