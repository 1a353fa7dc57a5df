import Foundation
import VLTensor
import VLTestSupport
import XCTest

@testable import VLIO

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: Hand-built files

/// Little-endian pieces of a GGUF file, for building good and bad ones byte by byte.
enum Raw {
    static func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func u64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func string(_ s: String) -> [UInt8] { bytes(Array(s.utf8)) }
    static func bytes(_ b: [UInt8]) -> [UInt8] { u64(UInt64(b.count)) + b }

    /// A metadata entry: key, value type id, the value's bytes.
    static func kv(_ key: String, _ type: UInt32, _ payload: [UInt8]) -> [UInt8] { string(key) + u32(type) + payload }
    static func u32kv(_ key: String, _ v: UInt32) -> [UInt8] { kv(key, 4, u32(v)) }
    /// An array value's bytes: element type, count, elements.
    static func array(_ elementType: UInt32, _ count: UInt64, _ elements: [UInt8] = []) -> [UInt8] {
        u32(elementType) + u64(count) + elements
    }

    /// A tensor info (type 0 is F32).
    static func info(_ name: String, _ dims: [UInt64], type: UInt32 = 0, offset: UInt64 = 0) -> [UInt8] {
        string(name) + u32(UInt32(dims.count)) + dims.flatMap(u64) + u32(type) + u64(offset)
    }

    /// Header, entries, infos, padding to `alignment`, then `data` zero bytes.
    static func file(
        magic: String = "GGUF", version: UInt32 = 3, tensorCount: UInt64? = nil, kvCount: UInt64? = nil,
        kvs: [[UInt8]] = [], infos: [[UInt8]] = [], alignment: Int = 32, data: Int = 0
    ) -> [UInt8] {
        var out = Array(magic.utf8) + u32(version) + u64(tensorCount ?? UInt64(infos.count))
        out += u64(kvCount ?? UInt64(kvs.count))
        for kv in kvs { out += kv }
        for i in infos { out += i }
        out += [UInt8](repeating: 0, count: (alignment - out.count % alignment) % alignment)
        return out + [UInt8](repeating: 0, count: data)
    }
}

final class GGUFTests: TemporaryDirectoryTestCase {
    static let folder = fixturesRoot.appendingPathComponent("gguf")
    static let fixtureNames = ["every_type.gguf", "v2.gguf"]

    func fixture(_ name: String) -> String { Self.folder.appendingPathComponent(name).path }

    func write(_ bytes: [UInt8], name: String = "bad.gguf") -> String {
        let url = directory.appendingPathComponent(name)
        try! Data(bytes).write(to: url)
        return url.path
    }

    /// Opening fails with a GGUFError that names the file and says `text`.
    func assertFails(_ path: String, saying text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try GGUFFile(path: path), file: file, line: line) { error in
            guard let e = error as? GGUFError else {
                return XCTFail("\(error) is not a GGUFError", file: file, line: line)
            }
            XCTAssertTrue(e.problem.contains(text), "\"\(e.problem)\" does not say \"\(text)\"", file: file, line: line)
            XCTAssertEqual(e.path, path, file: file, line: line)
            XCTAssertTrue("\(e)".hasPrefix(path), "the message names the file", file: file, line: line)
        }
    }

    func assertFails(_ bytes: [UInt8], saying text: String, file: StaticString = #filePath, line: UInt = #line) {
        assertFails(write(bytes), saying: text, file: file, line: line)
    }

    // MARK: What gguf-py reads

    func reference() throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: Self.folder.appendingPathComponent("reference.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
    }

    /// The fixture script's canonical form: {"type": NAME, "value": text} or {"type": "ARRAY", "elements": […]}.
    static func canonical(_ v: GGUFValue) -> [String: Any] {
        if case .array(let elements) = v { return ["type": "ARRAY", "elements": elements.map(canonical)] }
        return ["type": v.type.name, "value": leaf(v)]
    }

    static func leaf(_ v: GGUFValue) -> String {
        switch v {
        case .float32(let f): return String(format: "0x%08x", f.bitPattern)
        case .float64(let d):
            return "0x" + String(repeating: "0", count: 16 - String(d.bitPattern, radix: 16).count)
                + String(d.bitPattern, radix: 16)
        case .bool(let b): return b ? "true" : "false"
        case .string(let s): return s
        case .uint64(let u): return String(u)
        case .int64(let i): return String(i)
        default: return String(v.int!)
        }
    }

    static func leaves(_ v: GGUFValue) -> [String] {
        if case .array(let elements) = v { return elements.flatMap(leaves) }
        return [leaf(v)]
    }

    func testReadsWhatGGUFPyReads() throws {
        for (name, want) in try reference() {
            let f = try GGUFFile(path: fixture(name))
            XCTAssertEqual(f.version, want["version"] as? Int, name)
            XCTAssertEqual(f.alignment, want["alignment"] as? Int, name)
            XCTAssertEqual(f.dataOffset, want["data_offset"] as? Int, name)
            let keys = try XCTUnwrap(want["metadata"] as? [[String: Any]])
            XCTAssertEqual(f.metadata.map(\.key), keys.map { $0["key"] as! String }, "keys in file order")
            for (entry, k) in zip(f.metadata, keys) {
                XCTAssertEqual(entry.value.typeName, k["type_name"] as? String, entry.key)
                XCTAssertEqual(
                    Self.canonical(entry.value) as NSDictionary, k["value"] as? NSDictionary,
                    "\(entry.key) is what the script wrote")
                if let contents = k["reader_contents"] as? [String] {
                    XCTAssertEqual(Self.leaves(entry.value), contents, "\(entry.key) flattened is what gguf-py reads")
                }
            }
            let tensors = try XCTUnwrap(want["tensors"] as? [[String: Any]])
            XCTAssertEqual(f.tensors.map(\.name), tensors.map { $0["name"] as! String }, "tensors in file order")
            for (t, w) in zip(f.tensors, tensors) {
                XCTAssertEqual(t.dimensions, w["dimensions"] as? [Int], t.name)
                XCTAssertEqual(t.shape, (w["dimensions"] as? [Int])?.reversed(), t.name)
                XCTAssertEqual(t.type.name, w["type"] as? String, t.name)
                XCTAssertEqual(Int(t.type.rawValue), w["type_id"] as? Int, t.name)
                XCTAssertEqual(t.elementCount, w["element_count"] as? Int, t.name)
                XCTAssertEqual(t.byteCount, w["byte_count"] as? Int, t.name)
                XCTAssertEqual(f.dataOffset + t.offset, w["file_offset"] as? Int, t.name)
                XCTAssertEqual(f.tensorInfo(t.name), t)
                let bytes = try XCTUnwrap(Data(base64Encoded: w["data_base64"] as! String))
                XCTAssertEqual(Data(f.data(t)), bytes, "\(t.name)'s bytes")
            }
        }
    }

    func testConveniences() throws {
        let f = try GGUFFile(path: fixture("every_type.gguf"))
        XCTAssertEqual(f.architecture, "llama")
        XCTAssertEqual(f["general.name"]?.string, "every type ✓")
        XCTAssertNil(f["no.such.key"])
        XCTAssertNil(f.tensorInfo("no.such.tensor"))
        XCTAssertEqual(f["test.uint8"]?.int, 200)
        XCTAssertEqual(f["test.int64"]?.int, -(1 << 62) - 7)
        XCTAssertNil(f["test.uint64"]?.int, "2^64 - 1 does not fit Int")
        XCTAssertEqual(f["test.uint64"]?.double, Double(UInt64.max))
        XCTAssertEqual(f["test.uint32"]?.double, 4_000_000_000)
        XCTAssertEqual(f["test.float32"]?.double, 3.25)
        XCTAssertNil(f["test.float32"]?.int)
        XCTAssertEqual(f["test.bool_true"]?.bool, true)
        XCTAssertNil(f["test.int8"]?.bool)
        XCTAssertEqual(f["test.string_empty"]?.string, "")
        XCTAssertEqual(f["test.array.string"]?.strings, ["<unk>", "", "▁the", "中文", "🦙", "a b"])
        XCTAssertNil(f["test.array.int32"]?.strings)
        XCTAssertEqual(f["test.array.int32"]?.ints, Array(-50..<50))
        XCTAssertEqual(f["test.array.empty"]?.array, [])
        XCTAssertEqual(f["test.array.empty"]?.strings, [])
        XCTAssertEqual(
            f["test.array.nested"], .array([.array([.int32(1), .int32(2)]), .array([.int32(3)]), .array([])]))
        XCTAssertNil(f["test.string"]?.array)
        let cube = try XCTUnwrap(f.tensorInfo("cube.f32"))
        XCTAssertEqual(cube.shape, [2, 3, 7])
        XCTAssertEqual(cube.elementCount, 42)
        let floats = f.data(cube).bindMemory(to: Float.self)
        XCTAssertEqual(floats.count, 42)
        XCTAssertEqual(Int(bitPattern: f.data(cube).baseAddress) % 64, 0, "data is aligned as the file says")
        let foreign = GGUFTensorInfo(name: "x", dimensions: [1 << 40], type: .f32, offset: 0, byteCount: 1 << 42)
        XCTAssertEqual(f.data(foreign).count, 0, "an info that does not fit the file gives no bytes")
    }

    // MARK: Writing

    /// A writer holding what `f` holds.
    func writer(copying f: GGUFFile) -> GGUFWriter {
        var w = GGUFWriter()
        for (key, value) in f.metadata { w.add(key, value) }
        for t in f.tensors {
            w.addTensor(t.name, type: t.type, dimensions: t.dimensions, data: Array(f.data(t)))
        }
        return w
    }

    /// Our writer lays files out as gguf-py does, so it gives the fixtures byte for byte (and gguf-py reads
    /// what it writes: the v2 file differs only in its version field).
    func testWriterReproducesGGUFPyFilesByteForByte() throws {
        for name in Self.fixtureNames {
            let f = try GGUFFile(path: fixture(name))
            let out = directory.appendingPathComponent(name).path
            try writer(copying: f).write(to: out, alignment: f.alignment)
            var want = try Data(contentsOf: URL(fileURLWithPath: fixture(name)))
            if f.version == 2 { want.replaceSubrange(4..<8, with: Raw.u32(3)) }
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), want, name)
        }
    }

    func testRoundTrip() throws {
        let values: [(String, GGUFValue)] = [
            ("general.architecture", .string("clip")), ("u8", .uint8(255)), ("i8", .int8(-128)),
            ("u16", .uint16(65535)), ("i16", .int16(-1)), ("u32", .uint32(.max)), ("i32", .int32(.min)),
            ("f32", .float32(-.infinity)), ("bool", .bool(false)), ("string", .string("ünï 🦙\u{0}x")),
            ("empty", .string("")), ("u64", .uint64(.max)), ("i64", .int64(.min)), ("f64", .float64(.pi)),
            ("array", .array([.float32(1), .float32(-0.0)])), ("empty_array", .array([])),
            ("nested", .array([.array([.array([.string("deep")])]), .array([])])),
            ("strings", .array((0..<1000).map { .string("token \($0)") })),
        ]
        var w = GGUFWriter()
        for (k, v) in values { w.add(k, v) }
        w.add("u8", .uint8(7))  // replaces, keeping its place
        let q8 = (0..<(34 * 6)).map { UInt8($0 % 256) }
        w.addTensor("q8", type: .q8_0, dimensions: [64, 3], data: q8)
        w.addTensor("empty", type: .f32, dimensions: [0, 4], data: [])
        w.addTensor("filled", type: .f16, dimensions: [3, 5], byteCount: 30) { buffer in
            for i in 0..<30 { buffer[i] = UInt8(i) }
        }
        let path = directory.appendingPathComponent("round.gguf").path
        try w.write(to: path, alignment: 128)

        let f = try GGUFFile(path: path)
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.alignment, 128)
        var want = values
        want[1].1 = .uint8(7)
        want.append(("general.alignment", .uint32(128)))
        XCTAssertEqual(f.metadata.map(\.key), want.map(\.0))
        XCTAssertEqual(f.metadata.map(\.value), want.map(\.1))
        XCTAssertEqual(f.architecture, "clip")
        XCTAssertEqual(f.tensors.map(\.name), ["q8", "empty", "filled"])
        XCTAssertEqual(f.tensors.map(\.offset), [0, 256, 256], "each tensor's data padded to the alignment")
        XCTAssertEqual(Array(f.data(f.tensorInfo("q8")!)), q8)
        XCTAssertEqual(f.data(f.tensorInfo("empty")!).count, 0)
        XCTAssertEqual(Array(f.data(f.tensorInfo("filled")!)), (0..<30).map(UInt8.init))
        XCTAssertEqual(f.tensorInfo("filled")?.shape, [5, 3])
        XCTAssertEqual(f.fileSize, f.dataOffset + 384)

        // Written again, it gives the same bytes.
        let again = directory.appendingPathComponent("again.gguf").path
        try writer(copying: f).write(to: again, alignment: 128)
        XCTAssertEqual(
            try Data(contentsOf: URL(fileURLWithPath: again)), try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func testWriterRefusesWhatAReaderWould() throws {
        let path = directory.appendingPathComponent("out.gguf").path
        func assertRefused(
            _ w: GGUFWriter, alignment: Int = 32, saying text: String, line: UInt = #line
        ) {
            XCTAssertThrowsError(try w.write(to: path, alignment: alignment), line: line) { error in
                XCTAssertTrue("\(error)".contains(text), "\"\(error)\" does not say \"\(text)\"", line: line)
                XCTAssertTrue("\(error)".hasPrefix(path), line: line)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: path), "no file is left", line: line)
        }
        func with(_ change: (inout GGUFWriter) -> Void) -> GGUFWriter {
            var w = GGUFWriter()
            change(&w)
            return w
        }
        assertRefused(
            with { $0.add("mixed", .array([.int32(1), .string("a")])) }, saying: "mixes INT32 and STRING")
        assertRefused(with { $0.add("", .int32(1)) }, saying: "a metadata key is empty")
        var deep = GGUFValue.uint8(1)
        for _ in 0..<9 { deep = .array([deep]) }
        assertRefused(with { $0.add("deep", deep) }, saying: "nest more than 8 deep")
        assertRefused(
            with {
                $0.addTensor("t", type: .f32, dimensions: [2], data: [0, 0, 0, 0, 0, 0, 0, 0])
                $0.addTensor("t", type: .f32, dimensions: [1], data: [0, 0, 0, 0])
            }, saying: "duplicate tensor name t")
        assertRefused(
            with { $0.addTensor("t", type: .f32, dimensions: [3], data: [0, 0, 0, 0]) },
            saying: "take 12 bytes but 4 were given")
        assertRefused(
            with { $0.addTensor("t", type: .q8_0, dimensions: [33], data: []) },
            saying: "rows of 33 Q8_0 weights are not a whole number of 32-weight blocks")
        assertRefused(with { $0.addTensor("t", type: .f32, dimensions: [], data: []) }, saying: "has 0 dimensions")
        assertRefused(
            with { $0.addTensor("t", type: .f32, dimensions: [1, 1, 1, 1, 1], data: [0, 0, 0, 0]) },
            saying: "has 5 dimensions")
        assertRefused(
            with { $0.addTensor("t", type: .f32, dimensions: [1 << 62, 4], data: []) }, saying: "too many elements")
        assertRefused(
            with {
                $0.addTensor("t", type: .f32, dimensions: [1], byteCount: -1) { _ in XCTFail("never called") }
            }, saying: "take 4 bytes but -1 were given")
        assertRefused(GGUFWriter(), alignment: 0, saying: "alignment 0 is not a power of two")
        assertRefused(GGUFWriter(), alignment: 48, saying: "alignment 48 is not a power of two")
        assertRefused(
            with { $0.add("general.alignment", .uint32(64)) }, alignment: 32, saying: "general.alignment is")
        struct Stop: Error {}
        XCTAssertThrowsError(
            try with { $0.addTensor("t", type: .f32, dimensions: [1], byteCount: 4) { _ in throw Stop() } }.write(
                to: path)
        ) { XCTAssertTrue($0 is Stop, "the closure's error comes through") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "no file is left")
        let intoMissingFolder = directory.appendingPathComponent("missing/x.gguf").path
        XCTAssertThrowsError(try GGUFWriter().write(to: intoMissingFolder)) {
            XCTAssertTrue("\($0)".contains("cannot write"), "\($0)")
        }
    }

    // MARK: Bad input, one kind at a time

    func testAValidHandBuiltFileReads() throws {
        let bytes = Raw.file(
            kvs: [Raw.u32kv("general.alignment", 64), Raw.kv("s", 8, Raw.string("x"))],
            infos: [Raw.info("a", [2, 2]), Raw.info("b", [32], type: 8, offset: 64)], alignment: 64, data: 128)
        let f = try GGUFFile(path: write(bytes))
        XCTAssertEqual(f.alignment, 64)
        XCTAssertEqual(f.tensors.map(\.byteCount), [16, 34])
    }

    func testBadMagic() {
        assertFails(Raw.file(magic: "GGUX"), saying: "not a GGUF file: it starts with 47 47 55 58 (\"GGUX\")")
        assertFails(Array("{\"__metadata__\": {}}".utf8), saying: "not a GGUF file")
    }

    func testUnsupportedVersions() {
        assertFails(
            Raw.file(version: 1), saying: "GGUF version 1 (the 2023 format with 32-bit counts) is not supported")
        assertFails(Raw.file(version: 99), saying: "GGUF version 99 is not supported (VLKit reads versions 2 and 3)")
        assertFails(Raw.file(version: 0), saying: "GGUF version 0 is not supported")
        assertFails(Raw.file(version: 3 << 24), saying: "big-endian")
    }

    func testEmptyFile() { assertFails([], saying: "the file is empty") }

    /// A file cut at every byte: inside the header and infos the error says where the file ends (or, where the
    /// bytes left cannot hold what a count promises, says so); inside the data, which tensor runs past the end.
    func testTruncatedAtEveryHeaderField() throws {
        let key = "a.key.long.enough.to.pass.the.count.checks"
        let tensor = "a.tensor.name.long.enough.to.pass.the.count.checks"
        let full = Raw.file(
            kvs: [Raw.kv(key, 9, Raw.array(8, 2, Raw.string("ab") + Raw.string("c"))), Raw.u32kv("n", 5)],
            infos: [Raw.info(tensor, [4, 2])], data: 32)
        let f = try GGUFFile(path: write(full))
        let infosEnd = 24 + (8 + key.utf8.count + 4 + 12 + 11 + 9) + (8 + 1 + 4 + 4) + (8 + tensor.utf8.count + 36)
        XCTAssertEqual(f.dataOffset, (infosEnd + 31) / 32 * 32)
        var messages: [String] = []
        for length in 1..<full.count {
            XCTAssertThrowsError(try GGUFFile(path: write(Array(full.prefix(length))))) { error in
                let problem = (error as? GGUFError)?.problem ?? "not a GGUFError: \(error)"
                messages.append(problem)
                if length < infosEnd {
                    XCTAssertTrue(
                        problem.hasPrefix("truncated: the file ends in ")
                            || problem.contains("past the end of the file")
                            || problem.contains("bytes left can hold"), "cut at \(length): \(problem)")
                } else if length < f.dataOffset {
                    XCTAssertTrue(problem.hasPrefix("truncated: the tensor data section would start at byte"), problem)
                } else {
                    XCTAssertTrue(
                        problem.hasPrefix("tensor \(tensor): its 32 bytes at data offset 0 run past"), problem)
                }
            }
        }
        // (The first bytes of the first entry and the first info are covered by the count checks.)
        let fields = [
            "the magic \"GGUF\"", "the version", "the tensor count", "the metadata key/value count",
            "the value type of \(key)",
            "the element type of the array \(key)", "the element count of the array \(key)",
            "the length of the string value of \(key)", "the length of the name of metadata entry 1",
            "the value type of n", "the value of n",
            "the dimension count of tensor \(tensor)", "dimension 0 of tensor \(tensor)",
            "dimension 1 of tensor \(tensor)", "the type of tensor \(tensor)", "the data offset of tensor \(tensor)",
        ]
        for field in fields {
            XCTAssertTrue(
                messages.contains { $0.hasPrefix("truncated: the file ends in \(field) (at byte ") },
                "no cut is reported as ending in \(field)")
        }
        let lengths = [
            "the name of metadata entry 0 at byte 24 is \(key.utf8.count) bytes long, past the end of the file",
            "the string value of \(key) at byte", "the name of tensor 0 at byte",
            "the header says 2 metadata entries, more than the", "the array \(key) says it holds 2 STRING values",
        ]
        for text in lengths {
            XCTAssertTrue(messages.contains { $0.contains(text) }, "no cut is reported as \"\(text)…\"")
        }
    }

    func testCountsPastTheEnd() {
        assertFails(Raw.file(tensorCount: 1 << 60), saying: "the header says 1152921504606846976 tensors")
        assertFails(Raw.file(kvCount: 1 << 60), saying: "the header says 1152921504606846976 metadata entries")
        assertFails(Raw.file(kvCount: .max), saying: "the metadata key/value count is 18446744073709551615")
        assertFails(
            Raw.file(kvs: [Raw.kv("a", 9, Raw.array(8, 1 << 60))]),
            saying: "the array a says it holds 1152921504606846976 STRING values")
        assertFails(
            Raw.file(kvs: [Raw.kv("a", 9, Raw.array(9, 1 << 40))]),
            saying: "the array a says it holds 1099511627776 ARRAY values")
        assertFails(Raw.file(kvs: [Raw.kv("a", 9, Raw.array(0, 1000, [1, 2, 3]))]), saying: "1000 UINT8 values")
    }

    func testStringLengthPastTheEnd() {
        assertFails(
            Raw.file(kvCount: 1, alignment: 1) + Raw.u64(1 << 62) + Array("key-long-enough".utf8),
            saying: "the name of metadata entry 0 at byte 24 is 4611686018427387904 bytes long, past the end of the "
                + "file (15 bytes left)")
        assertFails(
            Raw.file(kvs: [Raw.kv("s", 8, Raw.u64(100) + Array("short".utf8))]),
            saying: "the string value of s at byte 37 is 100 bytes long, past the end of the file")
        assertFails(
            Raw.file(tensorCount: 1, alignment: 1) + Raw.u64(33) + [UInt8](repeating: 0x61, count: 32),
            saying: "the name of tensor 0 at byte 24 is 33 bytes long")
    }

    func testInvalidUTF8() {
        assertFails(
            Raw.file(kvs: [Raw.bytes([0x61, 0xFF, 0x62]) + Raw.u32(4) + Raw.u32(1)]),
            saying: "the name of metadata entry 0 at byte 24 is not valid UTF-8")
        assertFails(
            Raw.file(kvs: [Raw.kv("s", 8, Raw.bytes([0xC3]))]),
            saying: "the string value of s at byte 37 is not valid UTF-8")
        assertFails(
            Raw.file(kvs: [Raw.kv("a", 9, Raw.array(8, 1, Raw.bytes([0xED, 0xA0, 0x80])))]),
            saying: "the string value of a at byte 49 is not valid UTF-8")
        assertFails(
            Raw.file(infos: [Raw.bytes([0xF0, 0x9F, 0xA6]) + Raw.u32(1) + Raw.u64(1) + Raw.u32(0) + Raw.u64(0)]),
            saying: "the name of tensor 0 at byte 24 is not valid UTF-8")
    }

    func testUnknownValueType() {
        assertFails(
            Raw.file(kvs: [Raw.kv("k", 13, Raw.u32(0))]),
            saying: "metadata key k has unknown value type id 13 (GGUF's types are 0…12)")
        assertFails(
            Raw.file(kvs: [Raw.kv("k", 9, Raw.array(99, 0))]), saying: "the array k has unknown element type id 99")
    }

    func testEmptyKey() {
        assertFails(Raw.file(kvs: [Raw.kv("", 4, Raw.u32(1))]), saying: "metadata entry 0 has an empty key")
    }

    func testArrayNestingTooDeep() throws {
        func nested(_ levels: Int) -> [UInt8] {
            let value = Array([[UInt8]](repeating: Raw.array(9, 1), count: levels - 1).joined()) + Raw.array(0, 1, [7])
            return Raw.file(kvs: [Raw.kv("deep", 9, value)])
        }
        let f = try GGUFFile(path: write(nested(8)))
        var v = try XCTUnwrap(f["deep"])
        for _ in 0..<8 { v = try XCTUnwrap(v.array?.first) }
        XCTAssertEqual(v, .uint8(7), "8 levels read")
        assertFails(nested(9), saying: "the array deep nests arrays more than 8 deep")
        assertFails(nested(100_000), saying: "nests arrays more than 8 deep")
    }

    func testUnknownTensorType() {
        assertFails(
            Raw.file(infos: [Raw.info("w", [256], type: 16)]),
            saying: "tensor w has ggml type id 16 (IQ2_XXS), which VLKit does not read (it reads F32, F16, Q4_0")
        assertFails(Raw.file(infos: [Raw.info("w", [256], type: 200)]), saying: "tensor w has ggml type id 200, which")
    }

    func testDimensionCount() {
        assertFails(Raw.file(infos: [Raw.info("w", [])]), saying: "tensor w has 0 dimensions; GGUF tensors have 1 to 4")
        assertFails(Raw.file(infos: [Raw.info("w", [1, 1, 1, 1, 1])]), saying: "tensor w has 5 dimensions")
        assertFails(Raw.file(infos: [Raw.string("w") + Raw.u32(.max)]), saying: "tensor w has 4294967295 dimensions")
    }

    func testAbsurdDimensions() {
        assertFails(
            Raw.file(infos: [Raw.info("w", [1 << 32, 1 << 32])]),
            saying: "tensor w: dimensions [4294967296, 4294967296] hold too many elements")
        assertFails(Raw.file(infos: [Raw.info("w", [1 << 40, 1 << 40, 0])]), saying: "hold too many elements")
        assertFails(
            Raw.file(infos: [Raw.info("w", [.max])]), saying: "tensor w: dimension 0 is 18446744073709551615, too large"
        )
        assertFails(Raw.file(infos: [Raw.info("w", [1 << 61, 2])]), saying: "take more bytes than a file can hold")
    }

    func testRowsNotWholeBlocks() {
        assertFails(
            Raw.file(infos: [Raw.info("w", [33, 2], type: 8)]),
            saying: "tensor w: its rows of 33 Q8_0 weights are not a whole number of 32-weight blocks")
        assertFails(
            Raw.file(infos: [Raw.info("w", [128], type: 12)]), saying: "not a whole number of 256-weight blocks")
    }

    func testMisalignedOffset() {
        assertFails(
            Raw.file(infos: [Raw.info("w", [1], offset: 4)], data: 64),
            saying: "tensor w: data offset 4 is not a multiple of the alignment 32")
        assertFails(
            Raw.file(kvs: [Raw.u32kv("general.alignment", 64)], infos: [Raw.info("w", [1], offset: 32)], data: 128),
            saying: "data offset 32 is not a multiple of the alignment 64")
        assertFails(
            Raw.file(infos: [Raw.info("w", [1], offset: .max)]),
            saying: "the data offset of tensor w is 18446744073709551615")
    }

    func testDataPastTheEnd() {
        assertFails(
            Raw.file(infos: [Raw.info("w", [8], offset: 32)], data: 48),
            saying:
                "tensor w: its 32 bytes at data offset 32 run past the end of the file (the data section at byte 64 "
                + "holds 48 bytes)"
        )
        assertFails(
            Raw.file(infos: [Raw.info("w", [1 << 60], offset: 0)]),
            saying: "its 4611686018427387904 bytes at data offset 0")
        assertFails(
            Raw.file(infos: [Raw.info("w", [1], offset: UInt64(Int.max) - 31)]), saying: "run past the end of the file")
        // The infos end at byte 57; without the padding the data section would start past the end.
        assertFails(
            Array(Raw.file(infos: [Raw.info("w", [0])]).prefix(57)),
            saying: "truncated: the tensor data section would start at byte 64, past the end of the file (57 bytes)")
        XCTAssertNoThrow(try GGUFFile(path: write(Array(Raw.file().prefix(24)))), "no tensors need no data section")
    }

    func testOverlappingTensors() {
        assertFails(
            Raw.file(infos: [Raw.info("a", [16]), Raw.info("b", [8], offset: 32)], data: 128),
            saying: "tensors a and b overlap (data bytes 0..<64 and 32..<64)")
        assertFails(
            Raw.file(infos: [Raw.info("a", [8], offset: 64), Raw.info("b", [64])], data: 256),
            saying: "tensors b and a overlap")
        XCTAssertNoThrow(
            try GGUFFile(
                path: write(Raw.file(infos: [Raw.info("a", [16]), Raw.info("b", [0], offset: 32)], data: 64))),
            "an empty tensor overlaps nothing")
    }

    func testDuplicateNames() {
        assertFails(
            Raw.file(infos: [Raw.info("w", [1]), Raw.info("w", [1], offset: 32)], data: 64),
            saying: "duplicate tensor name w")
        assertFails(Raw.file(kvs: [Raw.u32kv("k", 1), Raw.u32kv("k", 2)]), saying: "duplicate metadata key k")
    }

    func testBadAlignment() {
        assertFails(
            Raw.file(kvs: [Raw.u32kv("general.alignment", 0)]), saying: "general.alignment 0 is not a power of two")
        assertFails(
            Raw.file(kvs: [Raw.u32kv("general.alignment", 48)]), saying: "general.alignment 48 is not a power of two")
        assertFails(
            Raw.file(kvs: [Raw.kv("general.alignment", 8, Raw.string("32"))]),
            saying: "general.alignment must be a uint32, not STRING")
        assertFails(
            Raw.file(kvs: [Raw.kv("general.alignment", 10, Raw.u64(32))]),
            saying: "general.alignment must be a uint32, not UINT64")
    }

    func testDirectoryAndMissingPath() {
        assertFails(directory.path, saying: "is a directory, not a file")
        assertFails(
            directory.appendingPathComponent("missing.gguf").path, saying: "cannot open: No such file or directory")
    }

    // MARK: Fuzzing


    static func maxResidentBytes() -> Int {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        #if canImport(Darwin)
        return Int(usage.ru_maxrss)
        #else
        return Int(usage.ru_maxrss) * 1024
        #endif
    }

    /// Thousands of mutated fixtures: each reads or throws a GGUFError; nothing traps (a trap would end the test
    /// process), hangs or allocates much; every tensor a mutated file gives lies within the file.
    func testFuzzedFilesReadOrThrow() throws {
        var rng = SplitMix(seed: 2024)
        let seeds = try Self.fixtureNames.map { name -> (bytes: [UInt8], headerEnd: Int) in
            let f = try GGUFFile(path: fixture(name))
            return (Array(try Data(contentsOf: URL(fileURLWithPath: fixture(name)))), f.dataOffset)
        }
        let interesting: [UInt64] = [
            0, 1, 2, 3, 4, 5, 8, 9, 12, 13, 31, 32, 33, 255, 256, 1 << 31, 1 << 32, 1 << 40, 1 << 60, 1 << 63,
            UInt64(Int.max), .max - 1, .max,
        ]
        let path = directory.appendingPathComponent("fuzz.gguf").path
        let residentBefore = Self.maxResidentBytes()
        let start = Date()
        var read = 0
        var refused: [String: Int] = [:]
        for _ in 0..<3000 {
            let seed = seeds.randomElement(using: &rng)!
            var b = seed.bytes
            for _ in 0...Int.random(in: 0...2, using: &rng) {
                guard !b.isEmpty else { break }
                let inHeader = Int.random(in: 0..<max(1, min(seed.headerEnd, b.count)), using: &rng)
                let anywhere = Int.random(in: 0..<b.count, using: &rng)
                switch Int.random(in: 0..<7, using: &rng) {
                case 0: b[anywhere] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
                case 1: b[inHeader] = UInt8.random(in: 0...255, using: &rng)
                case 2: b.removeLast(Int.random(in: 0...b.count, using: &rng))
                case 3:
                    b.insert(
                        contentsOf: (0..<Int.random(in: 1...16, using: &rng)).map { _ in
                            UInt8.random(in: 0...255, using: &rng)
                        },
                        at: inHeader)
                case 4: b.removeSubrange(inHeader..<min(b.count, inHeader + Int.random(in: 1...16, using: &rng)))
                case 5 where inHeader + 8 <= b.count:
                    b.replaceSubrange(inHeader..<inHeader + 8, with: Raw.u64(interesting.randomElement(using: &rng)!))
                case 6 where inHeader + 4 <= b.count:
                    b.replaceSubrange(
                        inHeader..<inHeader + 4,
                        with: Raw.u32(UInt32(truncatingIfNeeded: interesting.randomElement(using: &rng)!)))
                default: b[anywhere] = 0
                }
            }
            try Data(b).write(to: URL(fileURLWithPath: path))
            do {
                let f = try GGUFFile(path: path)
                for t in f.tensors {
                    let data = f.data(t)
                    XCTAssertEqual(data.count, t.byteCount)
                    XCTAssertLessThanOrEqual(f.dataOffset + t.offset + t.byteCount, b.count)
                    if let last = data.last { _ = last &+ data[0] }
                    _ = t.elementCount
                }
                read += 1
            } catch let e as GGUFError {
                let kind = e.problem.prefix { !$0.isNumber && $0 != ":" }
                refused[String(kind.prefix(40)), default: 0] += 1
            } catch {
                XCTFail("\(error) is not a GGUFError")
            }
        }
        let seconds = Date().timeIntervalSince(start)
        let grown = Self.maxResidentBytes() - residentBefore
        XCTAssertLessThan(grown, 256 << 20, "peak memory grew by \(grown) bytes")
        XCTAssertGreaterThan(read, 0, "some mutations still read")
        XCTAssertGreaterThan(refused.count, 10, "many kinds of refusal: \(refused)")
        print(
            "fuzz: \(read) read, \(3000 - read) refused in \(String(format: "%.1f", seconds)) s, "
                + "\(refused.count) kinds of refusal"
        )
    }
}
