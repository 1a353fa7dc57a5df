import CKernels

/// ggml's tensor types (the ids GGUF files store, `enum ggml_type` in ggml.h) and their block geometry:
/// a row of k weights is k / `blockSize` blocks of `blockBytes` bytes each.
public enum GGMLType: UInt32, CaseIterable, Sendable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case bf16 = 30

    /// Weights a block holds (1 for the plain float types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1: return 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K: return 256
        }
    }

    /// Bytes a block takes (ggml's `type_size`).
    public var blockBytes: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q4_0: return 18  // f16 d, 16 bytes of nibbles
        case .q4_1: return 20  // f16 d, f16 m, 16 bytes of nibbles
        case .q5_0: return 22  // f16 d, 4 bytes of high bits, 16 bytes of nibbles
        case .q5_1: return 24  // f16 d, f16 m, 4 bytes of high bits, 16 bytes of nibbles
        case .q8_0: return 34  // f16 d, 32 int8
        case .q8_1: return 36  // f16 d, f16 s, 32 int8
        case .q2_K: return 84  // 16 scale/min bytes, 64 bytes of 2-bit values, f16 d, f16 dmin
        case .q3_K: return 110  // 32 bytes of high bits, 64 bytes of 2-bit values, 12 scale bytes, f16 d
        case .q4_K: return 144  // f16 d, f16 dmin, 12 scale bytes, 128 bytes of nibbles
        case .q5_K: return 176  // f16 d, f16 dmin, 12 scale bytes, 32 bytes of high bits, 128 bytes of nibbles
        case .q6_K: return 210  // 128 bytes low nibbles, 64 bytes high bits, 16 int8 scales, f16 d
        case .q8_K: return 292  // f32 d, 256 int8, 16 int16 block sums
        }
    }

    /// The name ggml and gguf-dump print ("Q4_K", "F16", …).
    public var name: String { String(describing: self).uppercased() }

    /// Bytes of a row of `k` weights, nil when k is not a whole number of blocks or the size overflows.
    public func rowBytes(_ k: Int) -> Int? {
        guard k >= 0, k % blockSize == 0 else { return nil }
        let (bytes, overflow) = (k / blockSize).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }
}

extension GGMLType {
    /// Whether weights of this type can be de-quantised (q8_1 and q8_K hold only activations in ggml).
    public var canDequantize: Bool { self != .q8_1 && self != .q8_K }

    /// The `count` weights (whole blocks) at `blocks` as f32, as ggml de-quantises them.
    func dequantize(_ blocks: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        _ = ck_ggml_dequantize(Int32(rawValue), blocks, count, out)
    }

    /// A tensor of this type (rows of `shape.last` weights, one after another) as f32, de-quantised in
    /// parallel; nil when the type cannot be de-quantised or the rows are not whole blocks.
    public func dequantized(_ rows: UnsafeRawPointer, shape: [Int]) -> Tensor? {
        let k = shape.last ?? 1, n = shape.dropLast().reduce(1, *)
        guard canDequantize, let rowBytes = self.rowBytes(k) else { return nil }
        let out = Tensor.uninitialized(shape), o = out.mutablePointer
        let rowsPerChunk = Swift.max(1, 65536 / Swift.max(k, 1))
        Parallel.forRange((n + rowsPerChunk - 1) / rowsPerChunk) { chunks in
            for c in chunks {
                let r0 = c * rowsPerChunk, count = Swift.min(rowsPerChunk, n - r0)
                self.dequantize(rows + r0 * rowBytes, count: count * k, into: o + r0 * k)
            }
        }
        return out
    }
}
