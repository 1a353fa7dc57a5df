import Foundation
import VLFiles
import VLTensor

/// Builds a GGUF v3 file (little-endian): metadata in the order added, then tensor infos and data in the order
/// added, each tensor's data padded to the alignment, as gguf-py's GGUFWriter lays it out. Nothing is checked
/// until `write`, which throws a `GGUFError` for anything a reader would refuse.
public struct GGUFWriter {
    private enum Contents {
        case bytes([UInt8])
        case fill((UnsafeMutableRawBufferPointer) throws -> Void)
    }

    private struct PendingTensor {
        let name: String
        let type: GGMLType
        let dimensions: [Int]
        let byteCount: Int
        let contents: Contents
    }

    private var metadata: [(key: String, value: GGUFValue)] = []
    private var keyIndex: [String: Int] = [:]
    private var tensors: [PendingTensor] = []

    public init() {}

    /// Adds a metadata entry; a key added again replaces its value and keeps its place. An array's elements
    /// must all be of one type (arrays may nest); an empty array is written as an array of uint8.
    public mutating func add(_ key: String, _ value: GGUFValue) {
        if let i = keyIndex[key] {
            metadata[i].value = value
        } else {
            keyIndex[key] = metadata.count
            metadata.append((key, value))
        }
    }

    /// Adds a tensor. `dimensions` are in ggml order (the row length first); `data` holds
    /// `type.rowBytes(dimensions[0])` × the other dimensions bytes.
    public mutating func addTensor(_ name: String, type: GGMLType, dimensions: [Int], data: [UInt8]) {
        tensors.append(
            PendingTensor(name: name, type: type, dimensions: dimensions, byteCount: data.count, contents: .bytes(data))
        )
    }

    /// Adds a tensor whose `byteCount` bytes `contents` fills (zeroed before the call) while `write` runs, so that
    /// only one such tensor is in memory at a time.
    public mutating func addTensor(
        _ name: String, type: GGMLType, dimensions: [Int], byteCount: Int,
        contents: @escaping (UnsafeMutableRawBufferPointer) throws -> Void
    ) {
        tensors.append(
            PendingTensor(
                name: name, type: type, dimensions: dimensions, byteCount: byteCount, contents: .fill(contents)))
    }

    /// Writes the file atomically (a temporary file beside `path`, then a rename). An alignment other than 32 is
    /// recorded as `general.alignment` (uint32) unless that key is already there with the same value.
    public func write(to path: String, alignment: Int = 32) throws {
        func fail(_ problem: String) -> GGUFError { GGUFError(path: path, problem: problem) }
        let header = try encodeHeader(alignment: alignment, fail: fail)
        let zeros = [UInt8](repeating: 0, count: 4096)
        do {
            try writeAtomically(to: URL(fileURLWithPath: path)) { append in
                /// Zeros up to the next multiple of the alignment after `count` bytes, a page at a time.
                func pad(after count: Int) throws {
                    var left = (alignment - count % alignment) % alignment
                    while left > 0 {
                        let n = min(left, zeros.count)
                        try zeros.withUnsafeBytes { try append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                        left -= n
                    }
                }
                try header.withUnsafeBytes { try append($0) }
                try pad(after: header.count)
                for t in tensors {
                    switch t.contents {
                    case .bytes(let data): try data.withUnsafeBytes { try append($0) }
                    case .fill(let fill):
                        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: t.byteCount, alignment: 64)
                        defer { buffer.deallocate() }
                        buffer.initializeMemory(as: UInt8.self, repeating: 0)
                        try fill(buffer)
                        try append(UnsafeRawBufferPointer(buffer))
                    }
                    try pad(after: t.byteCount)
                }
            }
        } catch let e as FileWriteError {
            throw fail("cannot write: \(e.reason)")
        }
    }

    /// The header, metadata and tensor infos (without the padding up to the data section).
    func encodeHeader(alignment: Int, fail: (String) -> GGUFError) throws -> [UInt8] {
        guard alignment > 0, alignment & (alignment - 1) == 0, alignment <= Int(UInt32.max) else {
            throw fail("alignment \(alignment) is not a power of two in 1…2^31")
        }
        var entries = metadata
        if let i = keyIndex["general.alignment"] {
            guard entries[i].value == .uint32(UInt32(alignment)) else {
                throw fail(
                    "general.alignment is \(entries[i].value) but the file is written with alignment \(alignment)")
            }
        } else if alignment != 32 {
            entries.append(("general.alignment", .uint32(UInt32(alignment))))
        }

        var out: [UInt8] = []
        out.append(contentsOf: Array("GGUF".utf8))
        out.appendLittleEndian(UInt32(3))
        out.appendLittleEndian(UInt64(tensors.count))
        out.appendLittleEndian(UInt64(entries.count))
        for (key, value) in entries {
            guard !key.isEmpty else { throw fail("a metadata key is empty") }
            try check(value, key: key, depth: 0, fail: fail)
            out.appendString(key)
            out.appendLittleEndian(value.type.rawValue)
            out.appendValue(value)
        }

        var names = Set<String>()
        var offset = 0
        for t in tensors {
            guard names.insert(t.name).inserted else { throw fail("duplicate tensor name \(t.name)") }
            try check(t, fail: fail)
            out.appendString(t.name)
            out.appendLittleEndian(UInt32(t.dimensions.count))
            for d in t.dimensions { out.appendLittleEndian(UInt64(d)) }
            out.appendLittleEndian(t.type.rawValue)
            out.appendLittleEndian(UInt64(offset))
            let (padded, overflow) = t.byteCount.addingReportingOverflow(
                (alignment - t.byteCount % alignment) % alignment)
            let (next, overflow2) = offset.addingReportingOverflow(padded)
            guard !overflow, !overflow2 else { throw fail("the tensors take more bytes than a file can hold") }
            offset = next
        }
        return out
    }

    private func check(_ value: GGUFValue, key: String, depth: Int, fail: (String) -> GGUFError) throws {
        guard case .array(let elements) = value else { return }
        guard depth < GGUFFile.maxArrayNesting else {
            throw fail("metadata key \(key): arrays nest more than \(GGUFFile.maxArrayNesting) deep")
        }
        guard let first = elements.first else { return }
        if let other = elements.first(where: { $0.type != first.type }) {
            throw fail("metadata key \(key): an array mixes \(first.type.name) and \(other.type.name) values")
        }
        for e in elements { try check(e, key: key, depth: depth + 1, fail: fail) }
    }

    private func check(_ t: PendingTensor, fail: (String) -> GGUFError) throws {
        let dims = t.dimensions
        guard (1...4).contains(dims.count) else {
            throw fail("tensor \(t.name) has \(dims.count) dimensions; GGUF tensors have 1 to 4")
        }
        guard dims.allSatisfy({ $0 >= 0 }) else { throw fail("tensor \(t.name) has a negative dimension: \(dims)") }
        var elements = 1
        for d in dims {
            let (p, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else { throw fail("tensor \(t.name): dimensions \(dims) hold too many elements") }
            elements = p
        }
        guard var bytes = t.type.rowBytes(dims[0]) else {
            throw fail(
                "tensor \(t.name): its rows of \(dims[0]) \(t.type.name) weights are not a whole number of "
                    + "\(t.type.blockSize)-weight blocks")
        }
        for d in dims.dropFirst() {
            let (p, overflow) = bytes.multipliedReportingOverflow(by: d)
            guard !overflow else { throw fail("tensor \(t.name): dimensions \(dims) take too many bytes") }
            bytes = p
        }
        guard bytes == t.byteCount else {
            throw fail(
                "tensor \(t.name): dimensions \(dims) of \(t.type.name) take \(bytes) bytes but \(t.byteCount) "
                    + "were given"
            )
        }
    }
}

extension [UInt8] {
    fileprivate mutating func appendLittleEndian<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }

    fileprivate mutating func appendString(_ s: String) {
        appendLittleEndian(UInt64(s.utf8.count))
        append(contentsOf: s.utf8)
    }

    /// The value's bytes without its type id.
    fileprivate mutating func appendValue(_ value: GGUFValue) {
        switch value {
        case .uint8(let v): appendLittleEndian(v)
        case .int8(let v): appendLittleEndian(v)
        case .uint16(let v): appendLittleEndian(v)
        case .int16(let v): appendLittleEndian(v)
        case .uint32(let v): appendLittleEndian(v)
        case .int32(let v): appendLittleEndian(v)
        case .uint64(let v): appendLittleEndian(v)
        case .int64(let v): appendLittleEndian(v)
        case .float32(let v): appendLittleEndian(v.bitPattern)
        case .float64(let v): appendLittleEndian(v.bitPattern)
        case .bool(let v): append(v ? 1 : 0)
        case .string(let v): appendString(v)
        case .array(let elements):
            appendLittleEndian((elements.first?.type ?? .uint8).rawValue)
            appendLittleEndian(UInt64(elements.count))
            for e in elements { appendValue(e) }
        }
    }
}
