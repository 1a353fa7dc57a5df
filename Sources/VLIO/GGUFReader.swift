import Foundation
import VLTensor

/// One tensor's entry in a GGUF file's tensor infos.
public struct GGUFTensorInfo: Equatable, Sendable {
    public let name: String
    /// ggml order: `dimensions[0]` (ne0) is the fastest-varying one, the row length.
    public let dimensions: [Int]
    public let type: GGMLType
    /// From the start of the tensor data section (`GGUFFile.dataOffset`).
    public let offset: Int
    public let byteCount: Int

    /// The reader has checked that this product does not overflow.
    public var elementCount: Int { dimensions.reduce(1, *) }
    /// PyTorch order: the dimensions reversed.
    public var shape: [Int] { dimensions.reversed() }
}

/// A GGUF file (llama.cpp's model format, versions 2 and 3, little-endian) opened through mmap. Opening reads
/// and checks the header, metadata and tensor infos; `data(_:)` borrows a tensor's bytes from the mapping.
public final class GGUFFile: @unchecked Sendable {
    /// How deep arrays may nest in metadata (an array of arrays is 2).
    public static let maxArrayNesting = 8
    /// How many values (array elements included) the metadata may hold, bounding the memory a file's header
    /// can make the reader allocate (a large vocabulary's tokens, scores, types and merges are a few million).
    public static let maxMetadataValues = 1 << 24

    public let path: String
    /// 2 or 3 (the layouts are the same; version 1 is refused).
    public let version: Int
    /// `general.alignment`, or 32.
    public let alignment: Int
    /// In file order.
    public let metadata: [(key: String, value: GGUFValue)]
    /// In file order.
    public let tensors: [GGUFTensorInfo]
    /// Where the tensor data section starts in the file (the end of the tensor infos, rounded up to `alignment`).
    public let dataOffset: Int
    /// The file's size in bytes.
    public let fileSize: Int

    private let file: MappedFile
    private let keyIndex: [String: Int]
    private let tensorIndex: [String: Int]

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path, problem: { GGUFError(path: $0, problem: $1) })
        fileSize = file.size
        let header = try GGUFParser.parse(UnsafeRawBufferPointer(start: file.base, count: file.size), path: path)
        version = header.version
        alignment = header.alignment
        metadata = header.metadata
        tensors = header.tensors
        dataOffset = header.dataOffset
        keyIndex = header.keyIndex
        tensorIndex = header.tensorIndex
    }

    public subscript(key: String) -> GGUFValue? { keyIndex[key].map { metadata[$0].value } }

    public func tensorInfo(_ name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// The tensor's bytes in the mapping, valid while this GGUFFile lives. An info whose range does not lie in
    /// this file (one from another file) gives an empty buffer.
    public func data(_ tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        let (start, o1) = dataOffset.addingReportingOverflow(tensor.offset)
        let (end, o2) = start.addingReportingOverflow(tensor.byteCount)
        guard !o1, !o2, tensor.offset >= 0, tensor.byteCount >= 0, end <= file.size else {
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        return UnsafeRawBufferPointer(start: file.base + start, count: tensor.byteCount)
    }

    /// `general.architecture` ("llama", "clip", …).
    public var architecture: String? { self["general.architecture"]?.string }
}

/// What the parser reads from a file's bytes.
struct GGUFHeader {
    var version = 0
    var alignment = 32
    var metadata: [(key: String, value: GGUFValue)] = []
    var keyIndex: [String: Int] = [:]
    var tensors: [GGUFTensorInfo] = []
    var tensorIndex: [String: Int] = [:]
    var dataOffset = 0
}

/// Reads a GGUF header from bytes, checking every length and count against the bytes left before it
/// allocates, and every product for overflow.
struct GGUFParser {
    /// The smallest tensor info: name length, n_dims, one dimension, type, offset.
    static let minimumTensorInfoBytes = 8 + 4 + 8 + 4 + 8
    /// The smallest metadata entry: key length, a one-byte key, value type, a one-byte value.
    static let minimumKeyValueBytes = 8 + 1 + 4 + 1
    /// The most elements reserved ahead for a count the file gives (more grow as they are read), so that a
    /// corrupt count in a large file cannot make one large allocation before the file runs out.
    static let maximumReservation = 1 << 16

    let bytes: UnsafeRawBufferPointer
    let path: String
    var position = 0
    var valuesLeft = GGUFFile.maxMetadataValues

    var remaining: Int { bytes.count - position }

    func fail(_ problem: String) -> GGUFError { GGUFError(path: path, problem: problem) }

    static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> GGUFHeader {
        var parser = GGUFParser(bytes: bytes, path: path)
        return try parser.parseHeader()
    }

    // MARK: Primitives

    /// The next `count` bytes, failing with a message naming `what` when the file ends first.
    mutating func take(_ count: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        guard count <= remaining else {
            throw fail(
                "truncated: the file ends in \(what()) (at byte \(position), \(count) bytes needed, \(remaining) left)")
        }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<position + count])
    }

    mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let raw = try take(MemoryLayout<T>.size, what())
        return T(littleEndian: raw.loadUnaligned(as: T.self))
    }

    mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 { try load(UInt32.self, what()) }
    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 { try load(UInt64.self, what()) }

    /// A u64 that must fit Int (counts, lengths, dimensions, offsets).
    mutating func count(_ what: @autoclosure () -> String) throws -> Int {
        let v = try u64(what())
        guard let n = Int(exactly: v) else { throw fail("\(what()) is \(v), more than any file holds") }
        return n
    }

    /// A u64 length and that many bytes of UTF-8.
    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let start = position
        let length = try u64("the length of \(what())")
        guard length <= UInt64(remaining) else {
            throw fail(
                "\(what()) at byte \(start) is \(length) bytes long, past the end of the file (\(remaining) bytes left)"
            )
        }
        let raw = try take(Int(length), what())
        let s = String(decoding: raw, as: UTF8.self)
        // Decoding replaces invalid sequences with U+FFFD, which changes the bytes.
        guard s.utf8.elementsEqual(raw) else { throw fail("\(what()) at byte \(start) is not valid UTF-8") }
        return s
    }

    // MARK: Header

    mutating func parseHeader() throws -> GGUFHeader {
        var header = GGUFHeader()
        let magic = try take(4, "the magic \"GGUF\"")
        guard Array(magic) == Array("GGUF".utf8) else {
            let shown = magic.map { (0x20..<0x7F).contains($0) ? String(UnicodeScalar($0)) : "?" }.joined()
            let hex = magic.map { String(format: "%02x", $0) }.joined(separator: " ")
            throw fail("not a GGUF file: it starts with \(hex) (\"\(shown)\"), not the magic \"GGUF\"")
        }
        let version = try u32("the version")
        if version != 0 && version & 0xFFFF == 0 {
            throw fail(
                "the version reads 0x\(String(version, radix: 16)): a big-endian GGUF file, which VLKit does not read")
        }
        guard version != 1 else {
            throw fail(
                "GGUF version 1 (the 2023 format with 32-bit counts) is not supported; re-convert the model with a "
                    + "current llama.cpp")
        }
        guard version == 2 || version == 3 else {
            throw fail("GGUF version \(version) is not supported (VLKit reads versions 2 and 3)")
        }
        header.version = Int(version)
        let tensorCount = try count("the tensor count")
        let kvCount = try count("the metadata key/value count")

        guard kvCount <= remaining / Self.minimumKeyValueBytes else {
            throw fail(
                "the header says \(kvCount) metadata entries, more than the \(remaining) bytes left can hold")
        }
        header.metadata.reserveCapacity(min(kvCount, Self.maximumReservation))
        for i in 0..<kvCount {
            let key = try string("the name of metadata entry \(i)")
            guard !key.isEmpty else { throw fail("metadata entry \(i) has an empty key") }
            guard header.keyIndex[key] == nil else { throw fail("duplicate metadata key \(key)") }
            let raw = try u32("the value type of \(key)")
            guard let type = GGUFValueType(rawValue: raw) else {
                throw fail("metadata key \(key) has unknown value type id \(raw) (GGUF's types are 0…12)")
            }
            let value = try self.value(type, key: key, depth: 0)
            header.keyIndex[key] = header.metadata.count
            header.metadata.append((key, value))
        }

        if let i = header.keyIndex["general.alignment"] {
            guard case .uint32(let a) = header.metadata[i].value else {
                throw fail("general.alignment must be a uint32, not \(header.metadata[i].value.typeName)")
            }
            guard a != 0, a & (a - 1) == 0 else { throw fail("general.alignment \(a) is not a power of two") }
            header.alignment = Int(a)
        }

        guard tensorCount <= remaining / Self.minimumTensorInfoBytes else {
            throw fail("the header says \(tensorCount) tensors, more than the \(remaining) bytes left can hold")
        }
        header.tensors.reserveCapacity(min(tensorCount, Self.maximumReservation))
        for i in 0..<tensorCount {
            let info = try tensorInfo(i)
            guard header.tensorIndex[info.name] == nil else { throw fail("duplicate tensor name \(info.name)") }
            header.tensorIndex[info.name] = header.tensors.count
            header.tensors.append(info)
        }

        // The data section starts at the next multiple of the alignment (the padding may be absent when there
        // are no tensors).
        let (padded, overflow) = position.addingReportingOverflow(header.alignment - 1)
        guard !overflow else { throw fail("the tensor infos end too close to the largest file offset") }
        header.dataOffset = padded / header.alignment * header.alignment
        try checkTensorData(header)
        return header
    }

    /// A metadata value of `type`; `depth` is how many arrays enclose it.
    mutating func value(_ type: GGUFValueType, key: String, depth: Int) throws -> GGUFValue {
        valuesLeft -= 1
        guard valuesLeft >= 0 else {
            throw fail("the metadata holds more than \(GGUFFile.maxMetadataValues) values (at key \(key))")
        }
        switch type {
        case .uint8: return .uint8(try load(UInt8.self, "the value of \(key)"))
        case .int8: return .int8(try load(Int8.self, "the value of \(key)"))
        case .uint16: return .uint16(try load(UInt16.self, "the value of \(key)"))
        case .int16: return .int16(try load(Int16.self, "the value of \(key)"))
        case .uint32: return .uint32(try load(UInt32.self, "the value of \(key)"))
        case .int32: return .int32(try load(Int32.self, "the value of \(key)"))
        case .uint64: return .uint64(try load(UInt64.self, "the value of \(key)"))
        case .int64: return .int64(try load(Int64.self, "the value of \(key)"))
        case .float32: return .float32(Float(bitPattern: try load(UInt32.self, "the value of \(key)")))
        case .float64: return .float64(Double(bitPattern: try load(UInt64.self, "the value of \(key)")))
        // Any non-zero byte is true, as ggml and gguf-py read it.
        case .bool: return .bool(try load(UInt8.self, "the value of \(key)") != 0)
        case .string: return .string(try string("the string value of \(key)"))
        case .array: return try array(key: key, depth: depth + 1)
        }
    }

    mutating func array(key: String, depth: Int) throws -> GGUFValue {
        let raw = try u32("the element type of the array \(key)")
        guard let elementType = GGUFValueType(rawValue: raw) else {
            throw fail("the array \(key) has unknown element type id \(raw) (GGUF's types are 0…12)")
        }
        if elementType == .array && depth >= GGUFFile.maxArrayNesting {
            throw fail("the array \(key) nests arrays more than \(GGUFFile.maxArrayNesting) deep")
        }
        let countStart = position
        let n = try u64("the element count of the array \(key)")
        // Check against the bytes left before allocating anything for the elements.
        guard n <= UInt64(remaining / elementType.minimumBytes) else {
            throw fail(
                "the array \(key) says it holds \(n) \(elementType.name) values (at byte \(countStart)), more than the "
                    + "\(remaining) bytes left can hold")
        }
        guard Int(n) <= valuesLeft else {
            throw fail("the metadata holds more than \(GGUFFile.maxMetadataValues) values (at key \(key))")
        }
        var elements: [GGUFValue] = []
        elements.reserveCapacity(min(Int(n), Self.maximumReservation))
        for _ in 0..<Int(n) { elements.append(try value(elementType, key: key, depth: depth)) }
        return .array(elements)
    }

    // MARK: Tensors

    mutating func tensorInfo(_ i: Int) throws -> GGUFTensorInfo {
        let name = try string("the name of tensor \(i)")
        let nDims = try u32("the dimension count of tensor \(name)")
        guard (1...4).contains(nDims) else {
            throw fail("tensor \(name) has \(nDims) dimensions; GGUF tensors have 1 to 4")
        }
        var dims: [Int] = []
        for j in 0..<Int(nDims) {
            let d = try u64("dimension \(j) of tensor \(name)")
            guard let n = Int(exactly: d) else { throw fail("tensor \(name): dimension \(j) is \(d), too large") }
            dims.append(n)
        }
        // In this order, so that `elementCount` (the same product) cannot trap.
        var elements = 1
        for d in dims {
            let (p, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else { throw fail("tensor \(name): dimensions \(dims) hold too many elements") }
            elements = p
        }
        let rawType = try u32("the type of tensor \(name)")
        guard let type = GGMLType(rawValue: rawType) else {
            let known = ggmlTypeNames[rawType].map { " (\($0))" } ?? ""
            throw fail(
                "tensor \(name) has ggml type id \(rawType)\(known), which VLKit does not read (it reads "
                    + GGMLType.allCases.map(\.name).joined(separator: ", ") + ")")
        }
        guard dims[0] % type.blockSize == 0 else {
            throw fail(
                "tensor \(name): its rows of \(dims[0]) \(type.name) weights are not a whole number of "
                    + "\(type.blockSize)-weight blocks")
        }
        var byteCount = type.rowBytes(dims[0]) ?? -1
        for d in dims.dropFirst() where byteCount >= 0 {
            let (p, overflow) = byteCount.multipliedReportingOverflow(by: d)
            byteCount = overflow ? -1 : p
        }
        guard byteCount >= 0 else {
            throw fail("tensor \(name): dimensions \(dims) of \(type.name) take more bytes than a file can hold")
        }
        let offset = try count("the data offset of tensor \(name)")
        return GGUFTensorInfo(name: name, dimensions: dims, type: type, offset: offset, byteCount: byteCount)
    }

    /// Each tensor's data is aligned, lies within the file, and overlaps no other tensor's.
    func checkTensorData(_ header: GGUFHeader) throws {
        guard header.tensors.isEmpty || header.dataOffset <= bytes.count else {
            throw fail(
                "truncated: the tensor data section would start at byte \(header.dataOffset), past the end of the file "
                    + "(\(bytes.count) bytes)")
        }
        let sectionSize = max(0, bytes.count - header.dataOffset)
        for t in header.tensors {
            guard t.offset % header.alignment == 0 else {
                throw fail(
                    "tensor \(t.name): data offset \(t.offset) is not a multiple of the alignment \(header.alignment)")
            }
            let (end, overflow) = t.offset.addingReportingOverflow(t.byteCount)
            guard !overflow, end <= sectionSize else {
                throw fail(
                    "tensor \(t.name): its \(t.byteCount) bytes at data offset \(t.offset) run past the end of the "
                        + "file "
                        + "(the data section at byte \(header.dataOffset) holds \(sectionSize) bytes)")
            }
        }
        let placed = header.tensors.filter { $0.byteCount > 0 }.sorted {
            $0.offset != $1.offset ? $0.offset < $1.offset : $0.byteCount < $1.byteCount
        }
        for (a, b) in zip(placed, placed.dropFirst()) where b.offset < a.offset + a.byteCount {
            throw fail(
                "tensors \(a.name) and \(b.name) overlap (data bytes \(a.offset)..<\(a.offset + a.byteCount) and "
                    + "\(b.offset)..<\(b.offset + b.byteCount))")
        }
    }
}

/// ggml's type ids that `GGMLType` leaves out, for naming them in errors.
let ggmlTypeNames: [UInt32: String] = [
    4: "Q4_2 (removed)", 5: "Q4_3 (removed)", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S",
    20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64",
    29: "IQ1_M", 31: "Q4_0_4_4 (removed)", 32: "Q4_0_4_8 (removed)", 33: "Q4_0_8_8 (removed)", 34: "TQ1_0",
    35: "TQ2_0", 36: "IQ4_NL_4_4 (removed)", 37: "IQ4_NL_4_8 (removed)", 38: "IQ4_NL_8_8 (removed)", 39: "MXFP4",
    40: "NVFP4", 41: "Q1_0",
]
