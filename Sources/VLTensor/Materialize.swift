/// Strided copies with dtype conversion: the one place that reads arbitrary layouts.
extension Tensor {
    /// Base offsets (in elements) of every innermost row of a strided layout, in row-major order.
    static func rowOffsets(shape: [Int], strides: [Int], offset: Int) -> [Int] {
        let outer = shape.dropLast()
        let rows = outer.reduce(1, *)
        var result = [Int](repeating: offset, count: rows)
        if outer.isEmpty || rows == 0 { return result }
        var index = [Int](repeating: 0, count: outer.count)
        var current = offset
        for r in 0..<rows {
            result[r] = current
            var d = outer.count - 1
            while d >= 0 {
                index[d] += 1
                current += strides[d]
                if index[d] < shape[d] { break }
                current -= strides[d] * shape[d]
                index[d] = 0
                d -= 1
            }
        }
        return result
    }

    /// A contiguous copy converted to `target` (`hugePages`: see `Storage.allocate`).
    func materialize(as target: DType, hugePages: Bool = false) -> Tensor {
        let out = Tensor(
            storage: Storage(uninitializedByteCount: count * target.byteSize, hugePages: hugePages), dtype: target,
            shape: shape)
        let n = count
        if n == 0 { return out }
        let inner = shape.last ?? 1
        let innerStride = strides.last ?? 1
        let rows = Tensor.rowOffsets(shape: shape, strides: strides, offset: 0)
        let src = storage.base
        let dst = out.storage.base
        let intToInt = !dtype.isFloatingPoint && !target.isFloatingPoint
        if dtype == .f32 && target == .f32 && innerStride == 1 && n >= 1 << 16 {
            // Large f32 layouts (merging attention heads) are copied row by row on all cores.
            let s = src.assumingMemoryBound(to: Float.self), d = dst.assumingMemoryBound(to: Float.self), base = offset
            Parallel.forRange(rows.count, grain: Swift.max(1, 16384 / Swift.max(inner, 1))) { r in
                for i in r { (d + i * inner).update(from: s + base + rows[i], count: inner) }
            }
            return out
        }
        for (r, rowBase) in rows.enumerated() {
            let base = offset + rowBase
            let o = r * inner
            if intToInt {
                for j in 0..<inner { writeInt(dst, target, o + j, readInt(src, dtype, base + j * innerStride)) }
            } else if dtype == .f32 && target == .f32 {
                let s = src.assumingMemoryBound(to: Float.self), d = dst.assumingMemoryBound(to: Float.self)
                if innerStride == 1 {
                    (d + o).update(from: s + base, count: inner)
                } else {
                    for j in 0..<inner { d[o + j] = s[base + j * innerStride] }
                }
            } else {
                for j in 0..<inner { writeFloat(dst, target, o + j, readFloat(src, dtype, base + j * innerStride)) }
            }
        }
        return out
    }
}

@inline(__always) func readFloat(_ p: UnsafeMutableRawPointer, _ t: DType, _ i: Int) -> Float {
    switch t {
    case .f32: return p.assumingMemoryBound(to: Float.self)[i]
    case .f16: return f16ToFloat(p.assumingMemoryBound(to: UInt16.self)[i])
    case .bf16: return bf16ToFloat(p.assumingMemoryBound(to: UInt16.self)[i])
    case .i64: return Float(p.assumingMemoryBound(to: Int64.self)[i])
    case .i32: return Float(p.assumingMemoryBound(to: Int32.self)[i])
    case .u8, .bool: return Float(p.assumingMemoryBound(to: UInt8.self)[i])
    }
}

@inline(__always) func writeFloat(_ p: UnsafeMutableRawPointer, _ t: DType, _ i: Int, _ v: Float) {
    switch t {
    case .f32: p.assumingMemoryBound(to: Float.self)[i] = v
    case .f16: p.assumingMemoryBound(to: UInt16.self)[i] = floatToF16(v)
    case .bf16: p.assumingMemoryBound(to: UInt16.self)[i] = floatToBF16(v)
    case .i64: p.assumingMemoryBound(to: Int64.self)[i] = Int64(v)
    case .i32: p.assumingMemoryBound(to: Int32.self)[i] = Int32(v)
    case .u8: p.assumingMemoryBound(to: UInt8.self)[i] = UInt8(max(0, min(255, v)))
    case .bool: p.assumingMemoryBound(to: UInt8.self)[i] = v != 0 ? 1 : 0
    }
}

@inline(__always) func readInt(_ p: UnsafeMutableRawPointer, _ t: DType, _ i: Int) -> Int64 {
    switch t {
    case .i64: return p.assumingMemoryBound(to: Int64.self)[i]
    case .i32: return Int64(p.assumingMemoryBound(to: Int32.self)[i])
    case .u8, .bool: return Int64(p.assumingMemoryBound(to: UInt8.self)[i])
    default: return Int64(readFloat(p, t, i))
    }
}

@inline(__always) func writeInt(_ p: UnsafeMutableRawPointer, _ t: DType, _ i: Int, _ v: Int64) {
    switch t {
    case .i64: p.assumingMemoryBound(to: Int64.self)[i] = v
    case .i32: p.assumingMemoryBound(to: Int32.self)[i] = Int32(truncatingIfNeeded: v)
    case .u8: p.assumingMemoryBound(to: UInt8.self)[i] = UInt8(truncatingIfNeeded: v)
    case .bool: p.assumingMemoryBound(to: UInt8.self)[i] = v != 0 ? 1 : 0
    default: writeFloat(p, t, i, Float(v))
    }
}
