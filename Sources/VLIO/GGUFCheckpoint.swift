import Foundation
import VLTensor

/// A GGUF file's tensors under the names a model's modules use: the model family maps ggml's names
/// (`blk.0.attn_q.weight`) onto its own and says where a converter reordered rows.
public struct GGUFTensorMap {
    public struct Entry {
        public let info: GGUFTensorInfo
        /// The file that holds it (a model can come as two: a language model and a vision projector).
        public let file: GGUFFile
        /// Row r of the model's tensor is row `rowOrder[r]` of the stored one (nil: as stored). A 1-D
        /// tensor's rows are its elements.
        public let rowOrder: [Int]?

        public init(_ info: GGUFTensorInfo, in file: GGUFFile, rowOrder: [Int]? = nil) {
            (self.info, self.file, self.rowOrder) = (info, file, rowOrder)
        }
    }

    public let file: GGUFFile
    public let entries: [String: Entry]

    public init(file: GGUFFile, entries: [String: Entry]) {
        (self.file, self.entries) = (file, entries)
    }

    func entry(_ name: String) throws -> Entry {
        guard let e = entries[name] else { throw GGUFError(path: file.path, problem: "no tensor for \(name)") }
        return e
    }

    /// The stored rows in the model's order, and what keeps them alive.
    private func rows(_ e: Entry) -> (UnsafeRawPointer, AnyObject) {
        let data = e.file.data(e.info)
        guard let base = data.baseAddress, data.count == e.info.byteCount else {
            let empty = Storage(byteCount: Swift.max(e.info.byteCount, 1))  // an empty tensor
            return (UnsafeRawPointer(empty.base), empty)
        }
        guard let order = e.rowOrder else { return (base, e.file) }
        let rowCount = e.info.shape.first ?? 1
        let rowBytes = e.info.byteCount / Swift.max(rowCount, 1)
        let copy = Storage(uninitializedByteCount: e.info.byteCount)
        for (r, source) in order.enumerated() {
            (copy.base + r * rowBytes).copyMemory(from: base + source * rowBytes, byteCount: rowBytes)
        }
        return (UnsafeRawPointer(copy.base), copy)
    }

    /// The tensor as f32 (quantised blocks de-quantised), or f16/bf16 as stored.
    public func tensor(_ name: String) throws -> Tensor {
        let e = try entry(name)
        let (start, owner) = rows(e)
        let shape = e.info.shape
        switch e.info.type {
        case .f32, .f16, .bf16:
            let dtype: DType = e.info.type == .f32 ? .f32 : (e.info.type == .f16 ? .f16 : .bf16)
            let storage: Storage
            if Int(bitPattern: start) % dtype.byteSize == 0 {
                storage = Storage(
                    borrowing: UnsafeMutableRawPointer(mutating: start), byteCount: e.info.byteCount, owner: owner)
            } else {
                storage = Storage(uninitializedByteCount: e.info.byteCount)
                storage.base.copyMemory(from: start, byteCount: e.info.byteCount)
            }
            return Tensor(storage: storage, dtype: dtype, shape: shape)
        case let type:
            guard let t = type.dequantized(start, shape: shape) else {
                throw GGUFError(
                    path: e.file.path, problem: "tensor \(e.info.name): \(type.name) weights cannot be read")
            }
            return t
        }
    }

    /// A 2-D block-quantised tensor as a matrix the quantised kernels run on, without widening it;
    /// nil for float tensors and for types without a kernel.
    public func quantizedMatrix(_ name: String) throws -> QuantizedMatrix? {
        let e = try entry(name)
        guard e.info.shape.count == 2, e.info.type.blockSize > 1 else { return nil }
        let (start, owner) = rows(e)
        return QuantizedMatrix.ggml(e.info.type, rows: start, n: e.info.shape[0], k: e.info.shape[1], owner: owner)
    }
}
