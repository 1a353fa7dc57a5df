import Foundation
import VLFiles
import VLTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A problem with a safetensors file, naming the file and what is wrong.
public struct SafetensorsError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String
    public var description: String { "\(path): \(problem)" }
}

/// One tensor's entry in a safetensors header.
public struct SafetensorsEntry: Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Byte range within the data section (after the header).
    public let begin: Int
    public let end: Int
}

/// A memory-mapped file that stays mapped while any tensor borrows from it.
final class MappedFile {
    let base: UnsafeMutableRawPointer
    let size: Int

    /// `problem` makes the error a failure throws (the format's own error type), given the path and what is wrong.
    init(
        path: String,
        problem: (String, String) -> Error = { SafetensorsError(path: $0, problem: $1) }
    ) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw problem(path, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw problem(path, "cannot stat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw problem(path, (st.st_mode & S_IFMT) == S_IFDIR ? "is a directory, not a file" : "not a regular file")
        }
        size = Int(st.st_size)
        guard size > 0 else { throw problem(path, "the file is empty") }
        // Private writable mapping: a stray write is copy-on-write and never reaches the file.
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw problem(path, "cannot map the file") }
        base = p
    }

    deinit { munmap(base, size) }
}

/// A safetensors file opened through mmap. Opening parses and validates the header only;
/// tensors borrow the mapped bytes (zero-copy) in their stored dtype.
public final class SafetensorsFile {
    public let path: String
    public let metadata: [String: String]
    /// Entries in file order.
    public let entries: [SafetensorsEntry]
    private let file: MappedFile
    private let dataStart: Int
    private let index: [String: Int]

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        func fail(_ problem: String) -> SafetensorsError { SafetensorsError(path: path, problem: problem) }
        guard file.size >= 8 else {
            throw fail("truncated: \(file.size) bytes, too short for the 8-byte header length")
        }
        let headerLength = Int(
            UInt64(littleEndian: file.base.loadUnaligned(as: UInt64.self)).clamped(to: 0...UInt64(Int.max)))
        guard headerLength <= file.size - 8 else {
            throw fail("header length \(headerLength) runs past the end of the file (\(file.size) bytes)")
        }
        dataStart = 8 + headerLength
        let headerBytes = Data(bytes: file.base + 8, count: headerLength)
        guard let json = try? JSONSerialization.jsonObject(with: headerBytes) else {
            throw fail("the header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw fail("the header is not a JSON object") }
        (metadata, entries) = try SafetensorsFile.parse(header, dataSize: file.size - dataStart, fail: fail)
        index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
    }

    public var names: [String] { entries.map(\.name) }

    public func entry(_ name: String) -> SafetensorsEntry? { index[name].map { entries[$0] } }

    /// The tensor `name`, borrowing the file's memory (copied only if misaligned for its dtype).
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entry(name) else { throw SafetensorsError(path: path, problem: "no tensor named \(name)") }
        let start = file.base + dataStart + e.begin
        let count = e.end - e.begin
        let storage: Storage
        if Int(bitPattern: start) % e.dtype.byteSize == 0 {
            storage = Storage(borrowing: start, byteCount: count, owner: file)
        } else {
            storage = Storage(uninitializedByteCount: count)
            storage.base.copyMemory(from: start, byteCount: count)
        }
        return Tensor(storage: storage, dtype: e.dtype, shape: e.shape)
    }

    /// Gives the pages that only tensor `name` occupies back to the kernel (a loader that converted
    /// the tensor to another dtype keeps the copy, not both). Touching it again re-reads the file.
    public func releasePages(_ name: String) {
        guard let e = entry(name) else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = dataStart + e.begin, end = dataStart + e.end
        let first = (start + page - 1) / page * page, last = end / page * page
        if last > first { madvise(file.base + first, last - first, Int32(MADV_DONTNEED)) }
    }

    /// Every tensor by name.
    public func tensors() throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for e in entries { result[e.name] = try tensor(e.name) }
        return result
    }

    private static func parse(
        _ header: [String: Any], dataSize: Int, fail: (String) -> SafetensorsError
    )
        throws -> ([String: String], [SafetensorsEntry])
    {
        var metadata: [String: String] = [:]
        var entries: [SafetensorsEntry] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw fail("metadata value for \(k) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            entries.append(try parseEntry(name, value, dataSize: dataSize, fail: fail))
        }
        entries.sort { $0.begin != $1.begin ? $0.begin < $1.begin : $0.end < $1.end }
        for (a, b) in zip(entries, entries.dropFirst()) where b.begin < a.end {
            throw fail(
                "tensors \(a.name) and \(b.name) overlap (bytes \(a.begin)..<\(a.end) and \(b.begin)..<\(b.end))")
        }
        return (metadata, entries)
    }

    private static func parseEntry(
        _ name: String, _ value: Any, dataSize: Int, fail: (String) -> SafetensorsError
    ) throws
        -> SafetensorsEntry
    {
        guard let d = value as? [String: Any] else { throw fail("entry \(name) is not an object") }
        guard let dtypeName = d["dtype"] as? String else { throw fail("entry \(name) has no dtype") }
        guard let dtype = DType(safetensorsName: dtypeName) else {
            throw fail("entry \(name) has unsupported dtype \(dtypeName) (F32, F16, BF16, I64, I32, U8, BOOL)")
        }
        guard let shapeValues = d["shape"] as? [Any] else { throw fail("entry \(name) has no shape list") }
        let shape = try shapeValues.map { v -> Int in
            guard let n = jsonInteger(v), n >= 0 else {
                throw fail("entry \(name) has an invalid shape \(shapeValues)")
            }
            return n
        }
        guard let offsets = d["data_offsets"] as? [Any], offsets.count == 2,
            let begin = jsonInteger(offsets[0]), let end = jsonInteger(offsets[1]), begin >= 0, end >= 0
        else {
            throw fail("entry \(name) has invalid data_offsets")
        }
        guard begin <= end else { throw fail("entry \(name): data_offsets begin \(begin) > end \(end)") }
        guard end <= dataSize else {
            throw fail(
                "entry \(name): data_offsets \(begin)..<\(end) out of range of the \(dataSize)-byte data section")
        }
        var bytes = dtype.byteSize
        for dim in shape {
            let (p, overflow) = bytes.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw fail("entry \(name): shape \(shape) is too large") }
            bytes = p
        }
        guard bytes == end - begin else {
            throw fail(
                "entry \(name): shape \(shape) × \(dtypeName) needs \(bytes) bytes but data_offsets span \(end - begin)"
            )
        }
        return SafetensorsEntry(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }
}

extension UInt64 {
    fileprivate func clamped(to r: ClosedRange<UInt64>) -> Int {
        Int(Swift.min(Swift.max(self, r.lowerBound), r.upperBound))
    }
}

/// Writes tensors as safetensors the way the Python library does (keys sorted, header padded with
/// spaces to a multiple of 8), atomically: a temporary file in the same folder, then a rename.
public func writeSafetensors(_ tensors: [String: Tensor], metadata: [String: String]? = nil, to url: URL) throws {
    let names = tensors.keys.sorted()
    var header: [String: Any] = [:]
    if let metadata { header["__metadata__"] = metadata }
    var offset = 0
    var blobs: [Tensor] = []
    for name in names {
        let t = tensors[name]!.isContiguous ? tensors[name]! : tensors[name]!.clone()
        let bytes = t.count * t.dtype.byteSize
        header[name] =
            ["dtype": t.dtype.safetensorsName, "shape": t.shape, "data_offsets": [offset, offset + bytes]]
            as [String: Any]
        offset += bytes
        blobs.append(t)
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
    var out = Data(capacity: 8 + json.count + offset)
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(json)
    for t in blobs { out.append(Data(bytes: t.rawPointer, count: t.count * t.dtype.byteSize)) }
    do { try writeAtomically(out, to: url) } catch let e as FileWriteError {
        throw SafetensorsError(path: url.path, problem: "cannot write: \(e.reason)")
    }
}
