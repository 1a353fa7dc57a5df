import CKernels

/// Weight-only block quantisation formats (32 weights of a row share a half-precision scale, as
/// llama.cpp's q8_0 and q4_0).
public enum QuantizationFormat: String, CaseIterable, Sendable {
    /// int8 values: 1.0625 bytes a weight.
    case q8
    /// signed 4-bit values: 0.5625 bytes a weight.
    case q4
}

/// A Linear weight [n, k] quantised for inference: decoding streams it through a GEMV that
/// dequantises on the fly; longer inputs dequantise it block by block into the f32 GEMM panels.
public final class QuantizedMatrix: @unchecked Sendable {
    public let format: QuantizationFormat
    public let n: Int, k: Int
    /// Strips of 16 rows, the lanes of the GEMV (layout in CKernels/strips.h), the last strip padded
    /// with zero rows.
    let values: UnsafeMutableRawPointer
    /// IEEE half bits, one per 32-weight block, in the strips' order.
    let scales: UnsafeMutablePointer<UInt16>
    /// Rows as stored: whole strips.
    let storedRows: Int

    public static let blockSize = 32

    /// Quantises an f32/f16/bf16 weight [n, k]; k must be a multiple of 32.
    public init?(_ weight: Tensor, format: QuantizationFormat) {
        guard weight.rank == 2, weight.shape[1] % QuantizedMatrix.blockSize == 0 else { return nil }
        (self.format, n, k) = (format, weight.shape[0], weight.shape[1])
        storedRows = (n + 15) / 16 * 16
        let bytes = format == .q8 ? storedRows * k : storedRows * k / 2
        values = Storage.allocate(bytes, hugePages: true)
        values.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        scales = Storage.allocate(storedRows * k / QuantizedMatrix.blockSize * 2, hugePages: true).bindMemory(
            to: UInt16.self,
            capacity: storedRows * k / QuantizedMatrix.blockSize)
        scales.initialize(repeating: 0, count: storedRows * k / QuantizedMatrix.blockSize)
        let (n, k) = (self.n, self.k)
        let rowsPerChunk = 64
        Parallel.forRange((n + rowsPerChunk - 1) / rowsPerChunk) { chunks in
            for c in chunks {
                let j0 = c * rowsPerChunk, rows = Swift.min(rowsPerChunk, n - j0)
                let wide = weight.narrow(0, start: j0, length: rows).materialize(as: .f32)
                let s = self.scales + j0 * k / QuantizedMatrix.blockSize
                switch format {
                case .q8:
                    ck_quantize_q8(wide.pointer, rows, k, self.values.assumingMemoryBound(to: UInt8.self) + j0 * k, s)
                case .q4:
                    ck_quantize_q4(
                        wide.pointer, rows, k, self.values.assumingMemoryBound(to: UInt8.self) + j0 * k / 2, s)
                }
            }
        }
    }

    deinit {
        values.deallocate()
        scales.deallocate()
    }

    /// The weight as the kernels see it, [n, k] f32.
    public func dequantized() -> Tensor {
        let out = Tensor.uninitialized([n, k])
        let nr = ck_gemm_nr()
        let panel = UnsafeMutablePointer<Float>.allocate(capacity: k * nr)
        defer { panel.deallocate() }
        for j0 in stride(from: 0, to: n, by: nr) {
            let cols = Swift.min(nr, n - j0)
            pack(p0: 0, kc: k, j0: j0, nc: cols, nr: nr, into: panel)
            for jj in 0..<cols { for p in 0..<k { out.mutablePointer[(j0 + jj) * k + p] = panel[p * nr + jj] } }
        }
        return out
    }

    public var byteCount: Int {
        (format == .q8 ? storedRows * k : storedRows * k / 2) + storedRows * k / QuantizedMatrix.blockSize * 2
    }

    /// y = x · Wᵀ (+ bias) for x [..., k] → [..., n]; inference only (not recorded).
    public func linear(_ x: Tensor, bias: Tensor?) -> Tensor { QuantizedMatrix.linear([self], x, biases: [bias])[0] }

    /// `linear` of several matrices on one input. When x is one row (decoding) and the matrices
    /// share format and width, x is prepared once and all their rows are one parallel pass: the
    /// GEMVs are memory-bound and short, so each hand-off to the threads and each uneven finish costs.
    public static func linear(_ matrices: [QuantizedMatrix], _ x: Tensor, biases: [Tensor?]) -> [Tensor] {
        precondition(matrices.count == biases.count && !matrices.isEmpty)
        let k = matrices[0].k, format = matrices[0].format
        let xd = x.reshape([-1, k]).dense
        let m = xd.shape[0]
        let outputs = zip(matrices, biases).map { matrix, bias in
            let out = Tensor.uninitialized([m, matrix.n])
            if let bias {
                let (bp, po) = (bias.dense.pointer, out.mutablePointer)
                for i in 0..<m { (po + i * matrix.n).update(from: bp, count: matrix.n) }
            }
            return out
        }
        if m == 1 && matrices.allSatisfy({ $0.k == k && $0.format == format }) {
            gemv(matrices, x: xd.pointer, outputs: outputs.map(\.mutablePointer), accumulate: biases.map { $0 != nil })
        } else {
            for (i, matrix) in matrices.enumerated() {
                matrix.gemm(xd.pointer, m: m, c: outputs[i].mutablePointer, accumulate: biases[i] != nil)
            }
        }
        return zip(matrices, outputs).map { $1.reshape(Array(x.shape.dropLast()) + [$0.n]) }
    }

    /// One parallel pass over the rows of every matrix (`Parallel.forEachRowPiece`).
    private static func gemv(
        _ matrices: [QuantizedMatrix], x: UnsafePointer<Float>, outputs: [UnsafeMutablePointer<Float>],
        accumulate: [Bool]
    ) {
        let k = matrices[0].k, q4 = matrices[0].format == .q4
        let prepared = UnsafeMutableRawPointer.allocate(byteCount: ck_gemv_x_bytes(k), alignment: 64)
        defer { prepared.deallocate() }
        ck_gemv_prepare_x(q4 ? 1 : 0, x, k, prepared)
        Parallel.forEachRowPiece(matrices.map(\.n)) { i, j, rows in
            let matrix = matrices[i], acc: Int32 = accumulate[i] ? 1 : 0
            let scales = matrix.scales + j * k / QuantizedMatrix.blockSize
            if q4 {
                ck_gemv_q4(
                    rows, k, matrix.values.assumingMemoryBound(to: UInt8.self) + j * k / 2, scales, prepared,
                    outputs[i] + j, 1, acc)
            } else {
                ck_gemv_q8(
                    rows, k, matrix.values.assumingMemoryBound(to: UInt8.self) + j * k, scales, prepared,
                    outputs[i] + j, 1, acc)
            }
        }
    }

    /// C [m, n] (+)= A · Wᵀ for m > 1.
    private func gemm(_ a: UnsafePointer<Float>, m: Int, c: UnsafeMutablePointer<Float>, accumulate: Bool) {
        if ck_has_qgemm() != 0 {
            int8Gemm(a: a, m: m, c: c, accumulate: accumulate)
        } else {
            GemmPlan(m: m, n: n, k: k).run(transA: false, alpha: 1, a: a, lda: k, c: c, ldc: n, accumulate: accumulate)
            {
                p0, kc, j0, nc, dst in self.pack(p0: p0, kc: kc, j0: j0, nc: nc, nr: ck_gemm_nr(), into: dst)
            }
        }
    }

    /// C [m, n] (+)= A · Wᵀ on int8 products (AVX512-VNNI): A is quantised per block into MR-row
    /// tiles once; threads then take groups of NR-column panels one at a time, pack each 512 values
    /// of k at a time (a panel stays in L1) and run every tile over it.
    private func int8Gemm(a: UnsafePointer<Float>, m: Int, c: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let (mr, nr, blocks) = (ck_qgemm_mr(), ck_qgemm_nr(), k / QuantizedMatrix.blockSize)
        let (aBlock, bBlock) = (ck_qgemm_a_block_bytes(), ck_qgemm_b_block_bytes())
        let tiles = (m + mr - 1) / mr, tileBytes = blocks * aBlock
        let packedA = UnsafeMutableRawPointer.allocate(byteCount: tiles * tileBytes, alignment: 64)
        defer { packedA.deallocate() }
        let offset: Int32 = format == .q8 ? 128 : 8
        Parallel.forRange(tiles) { r in
            for t in r {
                ck_qgemm_pack_a(
                    a + t * mr * self.k, self.k, Swift.min(mr, m - t * mr), self.k, offset, packedA + t * tileBytes)
            }
        }
        let rangeBlocks = 16
        let panels = (n + nr - 1) / nr, tasks = Swift.min(panels, 8 * Parallel.threadCount)
        Parallel.forEachTask(tasks) { task in
            let panel = UnsafeMutableRawPointer.allocate(byteCount: rangeBlocks * bBlock, alignment: 64)
            defer { panel.deallocate() }
            for p in panels * task / tasks..<panels * (task + 1) / tasks {
                let j0 = p * nr, cols = Swift.min(nr, self.n - j0)
                for b0 in stride(from: 0, to: blocks, by: rangeBlocks) {
                    let nb = Swift.min(rangeBlocks, blocks - b0), p0 = b0 * QuantizedMatrix.blockSize,
                        kc = nb * QuantizedMatrix.blockSize
                    ck_qgemm_pack_b(
                        self.format == .q4 ? 1 : 0, self.values, self.scales, self.k, j0, cols, p0, kc, panel)
                    for t in 0..<tiles {
                        ck_qgemm_micro(
                            nb, packedA + t * tileBytes + b0 * aBlock, panel, c + t * mr * self.n + j0, self.n,
                            Swift.min(mr, m - t * mr), cols, accumulate || b0 > 0 ? 1 : 0, 1)
                    }
                }
            }
        }
    }

    /// The NR-wide GEMM panels of Wᵀ[p0..<p0+kc, j0..<j0+nc]: each panel's rows dequantised, then
    /// transposed by the f32 GEMM's own packing.
    private func pack(p0: Int, kc: Int, j0: Int, nc: Int, nr: Int, into dst: UnsafeMutablePointer<Float>) {
        let panels = (nc + nr - 1) / nr
        Parallel.forRange(panels, grain: 4) { r in
            let rows = UnsafeMutablePointer<Float>.allocate(capacity: nr * kc)
            defer { rows.deallocate() }
            for panel in r {
                let jr = panel * nr, cols = Swift.min(nr, nc - jr)
                switch self.format {
                case .q8:
                    ck_dequantize_rows_q8(
                        self.values.assumingMemoryBound(to: UInt8.self), self.scales, self.k, j0 + jr, cols, p0, kc,
                        rows)
                case .q4:
                    ck_dequantize_rows_q4(
                        self.values.assumingMemoryBound(to: UInt8.self), self.scales, self.k, j0 + jr, cols, p0, kc,
                        rows)
                }
                ck_pack_b_trans(rows, kc, kc, cols, dst + jr * kc)
            }
        }
    }
}
