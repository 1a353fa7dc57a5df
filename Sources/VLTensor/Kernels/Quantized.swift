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
/// Either VLKit's own strips (`QuantizationFormat`) or rows of ggml blocks as a GGUF file holds them.
public final class QuantizedMatrix: @unchecked Sendable {
    public enum Encoding: Hashable, Sendable {
        case strips(QuantizationFormat)
        case ggml(GGMLType)
    }

    public let encoding: Encoding
    public let n: Int, k: Int
    /// Strips of 16 rows, the lanes of the GEMV (layout in CKernels/strips.h), the last strip padded
    /// with zero rows; or n rows of ggml blocks, `rowBytes` apart.
    let values: UnsafeMutableRawPointer
    /// Strips: IEEE half bits, one per 32-weight block, in the strips' order.
    let scales: UnsafeMutablePointer<UInt16>?
    /// Rows as stored: whole strips (ggml: n).
    let storedRows: Int
    /// ggml: bytes of one row of blocks.
    let rowBytes: Int
    /// ggml rows used in place: what keeps them alive (a mapped file); nil when `values` is owned.
    private let owner: AnyObject?

    public static let blockSize = 32

    /// The strips' format; nil for ggml blocks.
    public var format: QuantizationFormat? {
        if case .strips(let f) = encoding { return f }
        return nil
    }

    private init(strips format: QuantizationFormat, n: Int, k: Int) {
        (encoding, self.n, self.k, owner, rowBytes) = (.strips(format), n, k, nil, 0)
        storedRows = (n + 15) / 16 * 16
        let bytes = format == .q8 ? storedRows * k : storedRows * k / 2
        values = Storage.allocate(bytes, hugePages: true)
        values.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        let blocks = storedRows * k / QuantizedMatrix.blockSize
        let s = Storage.allocate(blocks * 2, hugePages: true).bindMemory(to: UInt16.self, capacity: blocks)
        s.initialize(repeating: 0, count: blocks)
        scales = s
    }

    private init(ggml type: GGMLType, rows: UnsafeRawPointer, n: Int, k: Int, rowBytes: Int, owner: AnyObject) {
        (encoding, self.n, self.k, self.rowBytes, self.owner, storedRows) = (.ggml(type), n, k, rowBytes, owner, n)
        values = UnsafeMutableRawPointer(mutating: rows)
        scales = nil
    }

    /// A weight [n, k] in ggml blocks (row j at `rows + j · type.rowBytes(k)`, kept alive by `owner`).
    /// Q8_0 and Q4_0 are repacked into the q8/q4 strips, which hold the same numbers; the other types
    /// the block kernels run on are used in place. Nil for a type without a GEMV kernel (the caller
    /// de-quantises it instead).
    public static func ggml(
        _ type: GGMLType, rows: UnsafeRawPointer, n: Int, k: Int, owner: AnyObject
    )
        -> QuantizedMatrix?
    {
        guard let rowBytes = type.rowBytes(k), n > 0 else { return nil }
        switch type {
        case .q8_0, .q4_0:
            guard k % blockSize == 0 else { return nil }
            let m = QuantizedMatrix(strips: type == .q8_0 ? .q8 : .q4, n: n, k: k)
            let q = m.values.assumingMemoryBound(to: UInt8.self), s = m.scales!
            let rowsPerChunk = 64
            Parallel.forRange((n + rowsPerChunk - 1) / rowsPerChunk) { chunks in
                for c in chunks {
                    let j0 = c * rowsPerChunk, count = Swift.min(rowsPerChunk, n - j0)
                    let src = rows + j0 * rowBytes, scales = s + j0 * k / blockSize
                    if type == .q8_0 {
                        ck_repack_ggml_q8_0(src, rowBytes, count, k, q + j0 * k, scales)
                    } else {
                        ck_repack_ggml_q4_0(src, rowBytes, count, k, q + j0 * k / 2, scales)
                    }
                }
            }
            return m
        default:
            guard ck_ggml_has_gemv(Int32(type.rawValue)) != 0 else { return nil }
            return QuantizedMatrix(ggml: type, rows: rows, n: n, k: k, rowBytes: rowBytes, owner: owner)
        }
    }

    /// Quantises an f32/f16/bf16 weight [n, k]; k must be a multiple of 32.
    public convenience init?(_ weight: Tensor, format: QuantizationFormat) {
        guard weight.rank == 2, weight.shape[1] % QuantizedMatrix.blockSize == 0 else { return nil }
        self.init(strips: format, n: weight.shape[0], k: weight.shape[1])
        let (n, k, q, scales) = (self.n, self.k, values.assumingMemoryBound(to: UInt8.self), self.scales!)
        let rowsPerChunk = 64
        Parallel.forRange((n + rowsPerChunk - 1) / rowsPerChunk) { chunks in
            for c in chunks {
                let j0 = c * rowsPerChunk, rows = Swift.min(rowsPerChunk, n - j0)
                let wide = weight.narrow(0, start: j0, length: rows).materialize(as: .f32)
                let s = scales + j0 * k / QuantizedMatrix.blockSize
                switch format {
                case .q8: ck_quantize_q8(wide.pointer, rows, k, q + j0 * k, s)
                case .q4: ck_quantize_q4(wide.pointer, rows, k, q + j0 * k / 2, s)
                }
            }
        }
    }

    deinit {
        guard owner == nil else { return }
        values.deallocate()
        scales?.deallocate()
    }

    /// The weight as the kernels see it, [n, k] f32.
    public func dequantized() -> Tensor {
        let out = Tensor.uninitialized([n, k])
        let (o, rowsPerChunk) = (out.mutablePointer, 64)
        Parallel.forRange((n + rowsPerChunk - 1) / rowsPerChunk) { chunks in
            for c in chunks {
                let j0 = c * rowsPerChunk
                self.dequantize(
                    rows: j0..<Swift.min(self.n, j0 + rowsPerChunk), columns: 0..<self.k, into: o + j0 * self.k)
            }
        }
        return out
    }

    public var byteCount: Int {
        switch encoding {
        case .strips(let f): return (f == .q8 ? storedRows * k : storedRows * k / 2) + storedRows * k / 32 * 2
        case .ggml: return n * rowBytes
        }
    }

    /// y = x · Wᵀ (+ bias) for x [..., k] → [..., n]; inference only (not recorded).
    public func linear(_ x: Tensor, bias: Tensor?) -> Tensor { QuantizedMatrix.linear([self], x, biases: [bias])[0] }

    /// `linear` of several matrices on one input. When x is one row (decoding) and the matrices
    /// share their width, x is prepared once per encoding and all their rows are one parallel pass: the
    /// GEMVs are memory-bound and short, so each hand-off to the threads and each uneven finish costs.
    public static func linear(_ matrices: [QuantizedMatrix], _ x: Tensor, biases: [Tensor?]) -> [Tensor] {
        precondition(matrices.count == biases.count && !matrices.isEmpty)
        let k = matrices[0].k
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
        if m == 1 && matrices.allSatisfy({ $0.k == k }) {
            gemv(matrices, x: xd.pointer, outputs: outputs.map(\.mutablePointer), accumulate: biases.map { $0 != nil })
        } else {
            for (i, matrix) in matrices.enumerated() {
                matrix.gemm(xd.pointer, m: m, c: outputs[i].mutablePointer, accumulate: biases[i] != nil)
            }
        }
        return zip(matrices, outputs).map { $1.reshape(Array(x.shape.dropLast()) + [$0.n]) }
    }

    /// x as one encoding's GEMV reads it (quantised per block where the kernels multiply int8).
    private final class PreparedInput {
        let bytes: UnsafeMutableRawPointer

        init(_ encoding: Encoding, x: UnsafePointer<Float>, k: Int) {
            switch encoding {
            case .strips(let f):
                bytes = UnsafeMutableRawPointer.allocate(byteCount: ck_gemv_x_bytes(k), alignment: 64)
                ck_gemv_prepare_x(f == .q4 ? 1 : 0, x, k, bytes)
            case .ggml(let t):
                bytes = UnsafeMutableRawPointer.allocate(
                    byteCount: ck_ggml_x_bytes(Int32(t.rawValue), k), alignment: 64)
                ck_ggml_prepare_x(Int32(t.rawValue), x, k, bytes)
            }
        }

        deinit { bytes.deallocate() }
    }

    /// One parallel pass over the rows of every matrix (`Parallel.forEachRowPiece`).
    private static func gemv(
        _ matrices: [QuantizedMatrix], x: UnsafePointer<Float>, outputs: [UnsafeMutablePointer<Float>],
        accumulate: [Bool]
    ) {
        let k = matrices[0].k
        var prepared: [Encoding: PreparedInput] = [:]
        for m in matrices where prepared[m.encoding] == nil {
            prepared[m.encoding] = PreparedInput(m.encoding, x: x, k: k)
        }
        let inputs = matrices.map { prepared[$0.encoding]!.bytes }
        withExtendedLifetime(prepared) {
            Parallel.forEachRowPiece(matrices.map(\.n)) { i, j, rows in
                matrices[i].gemv(rows: j..<j + rows, x: inputs[i], y: outputs[i] + j, accumulate: accumulate[i])
            }
        }
    }

    private func gemv(rows: Range<Int>, x: UnsafeRawPointer, y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let (j, acc, q) = (rows.lowerBound, Int32(accumulate ? 1 : 0), values.assumingMemoryBound(to: UInt8.self))
        switch encoding {
        case .strips(.q4):
            ck_gemv_q4(rows.count, k, q + j * k / 2, scales! + j * k / QuantizedMatrix.blockSize, x, y, 1, acc)
        case .strips(.q8):
            ck_gemv_q8(rows.count, k, q + j * k, scales! + j * k / QuantizedMatrix.blockSize, x, y, 1, acc)
        case .ggml(let t):
            ck_ggml_gemv(Int32(t.rawValue), rows.count, k, values + j * rowBytes, rowBytes, x, y, 1, acc)
        }
    }

    /// C [m, n] (+)= A · Wᵀ for m > 1.
    private func gemm(_ a: UnsafePointer<Float>, m: Int, c: UnsafeMutablePointer<Float>, accumulate: Bool) {
        if ck_has_qgemm() != 0, let format {
            int8Gemm(format, a: a, m: m, c: c, accumulate: accumulate)
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
    private func int8Gemm(
        _ format: QuantizationFormat, a: UnsafePointer<Float>, m: Int, c: UnsafeMutablePointer<Float>,
        accumulate: Bool
    ) {
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
                        format == .q4 ? 1 : 0, self.values, self.scales, self.k, j0, cols, p0, kc, panel)
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
                self.dequantize(rows: j0 + jr..<j0 + jr + cols, columns: p0..<p0 + kc, into: rows)
                ck_pack_b_trans(rows, kc, kc, cols, dst + jr * kc)
            }
        }
    }

    /// Rows × columns of the weight, row-major, as the kernels see it.
    func dequantize(rows: Range<Int>, columns: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let (j0, p0, kc, q) = (
            rows.lowerBound, columns.lowerBound, columns.count, values.assumingMemoryBound(to: UInt8.self)
        )
        switch encoding {
        case .strips(.q8): ck_dequantize_rows_q8(q, scales!, k, j0, rows.count, p0, kc, out)
        case .strips(.q4): ck_dequantize_rows_q4(q, scales!, k, j0, rows.count, p0, kc, out)
        case .ggml(let t):
            let bs = t.blockSize, b0 = p0 / bs, b1 = (columns.upperBound + bs - 1) / bs
            if p0 % bs == 0 && kc % bs == 0 {  // whole blocks: straight into the rows
                for (r, j) in rows.enumerated() {
                    ck_ggml_dequantize(Int32(t.rawValue), values + j * rowBytes + b0 * t.blockBytes, kc, out + r * kc)
                }
                return
            }
            // Whole blocks around the columns, then the columns asked for.
            let row = UnsafeMutablePointer<Float>.allocate(capacity: (b1 - b0) * bs)
            defer { row.deallocate() }
            for (r, j) in rows.enumerated() {
                ck_ggml_dequantize(Int32(t.rawValue), values + j * rowBytes + b0 * t.blockBytes, (b1 - b0) * bs, row)
                (out + r * kc).update(from: row + (p0 - b0 * bs), count: kc)
            }
        }
    }
}
