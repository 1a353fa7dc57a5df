import Foundation
import XCTest
import VLTensor
@testable import VLIO

final class SafetensorsTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("vlio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A file with a hand-written header and `data`, as the Python library lays it out.
    func rawFile(
        _ text: String, data: [UInt8] = [], headerLength: UInt64? = nil, name: String = "x.safetensors"
    ) -> String {
        let header = text + String(repeating: " ", count: (8 - text.utf8.count % 8) % 8)
        var bytes = Data()
        withUnsafeBytes(of: (headerLength ?? UInt64(header.utf8.count)).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(header.data(using: .utf8)!)
        bytes.append(contentsOf: data)
        let url = dir.appendingPathComponent(name)
        try! bytes.write(to: url)
        return url.path
    }

    func assertFails(_ path: String, mentioning text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafetensorsFile(path: path), file: file, line: line) { error in
            XCTAssertTrue(
                "\(error)".contains(text), "error \"\(error)\" does not mention \"\(text)\"", file: file, line: line)
            XCTAssertTrue("\(error)".contains(path), "error does not name the file", file: file, line: line)
        }
    }

    func testReadsAHandWrittenFileZeroCopy() throws {
        let floats: [Float] = [1.5, -2, 3.25, 0]
        let data = floats.withUnsafeBytes { Array($0) } + [7, 0, 0, 0, 0, 0, 0, 0]
        let path = rawFile(
            #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"#
                + #""n":{"dtype":"I64","shape":[1],"data_offsets":[16,24]}}  "#, data: data)
        let f = try SafetensorsFile(path: path)
        XCTAssertEqual(f.metadata, ["format": "pt"])
        XCTAssertEqual(f.names, ["a", "n"])
        let a = try f.tensor("a")
        XCTAssertEqual(a.shape, [2, 2])
        XCTAssertEqual(a.toArray(), floats)
        XCTAssertEqual(try f.tensor("n").toInts(), [7])
        XCTAssertTrue(a.storage.isBorrowed, "the tensor should borrow the mapped file")
    }

    func testRoundTripEveryDTypeAndLayout() throws {
        var rng = RandomGenerator(seed: 1)
        let base = Tensor.randn([3, 4], rng: &rng)
        let tensors: [String: Tensor] = [
            "f32": base, "f32_transposed": base.mT, "f16": base.to(.f16), "bf16": base.to(.bf16),
            "i64": Tensor(ints: [1, -2, 3]), "i32": Tensor(ints: [4, 5]).to(.i32), "u8": Tensor([0, 200, 255]).to(.u8),
            "bool": Tensor([0, 1, 1]).to(.bool), "scalar": Tensor.scalar(2.5),
        ]
        let url = dir.appendingPathComponent("all.safetensors")
        try writeSafetensors(tensors, metadata: ["format": "pt"], to: url)
        let back = try SafetensorsFile(path: url.path)
        XCTAssertEqual(back.metadata, ["format": "pt"])
        for (name, t) in tensors {
            let r = try back.tensor(name)
            XCTAssertEqual(r.dtype, t.dtype, name)
            XCTAssertEqual(r.shape, t.shape, name)
            XCTAssertEqual(r.toArray(), t.toArray(), name)
        }
        let raw = try Data(contentsOf: url)
        let headerLength = Int(raw.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        XCTAssertEqual(headerLength % 8, 0, "header padded to 8 bytes")
        let header = String(data: raw[8..<(8 + headerLength)], encoding: .utf8)!
        XCTAssertTrue(header.range(of: "\"bf16\"")!.lowerBound < header.range(of: "\"f16\"")!.lowerBound, "keys sorted")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".tmp") }
        XCTAssertEqual(leftovers, [])
    }

    func testBadFilesAreRefusedWithTheirProblem() {
        let tiny = dir.appendingPathComponent("tiny.safetensors")
        try! Data([1, 2, 3]).write(to: tiny)
        assertFails(tiny.path, mentioning: "truncated")
        assertFails(rawFile("{}", headerLength: 1_000_000), mentioning: "runs past the end")
        assertFails(rawFile("{not json"), mentioning: "not valid JSON")
        assertFails(rawFile("[1,2]"), mentioning: "not a JSON object")
        assertFails(
            rawFile(#"{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
            mentioning: "unsupported dtype F64")
        assertFails(
            rawFile(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
            mentioning: "needs 12 bytes")
        assertFails(
            rawFile(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 8)),
            mentioning: "out of range")
        assertFails(
            rawFile(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, data: [UInt8](repeating: 0, count: 8)),
            mentioning: "begin 8 > end 4")
        assertFails(
            rawFile(
                #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                data: [UInt8](repeating: 0, count: 12)), mentioning: "overlap")
        assertFails(
            rawFile(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
            mentioning: "invalid shape")
        assertFails(
            rawFile(#"{"a":{"dtype":"F32","shape":[1]}}"#, data: [0, 0, 0, 0]), mentioning: "invalid data_offsets")
        assertFails(dir.appendingPathComponent("missing.safetensors").path, mentioning: "cannot open")
    }

    func testShardedCheckpoints() throws {
        try writeSafetensors(["a": Tensor([1, 2])], to: dir.appendingPathComponent("model-00001-of-00002.safetensors"))
        try writeSafetensors(["b": Tensor([3])], to: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        let index =
            #"{"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}"#
        try index.write(
            to: dir.appendingPathComponent("model.safetensors.index.json"), atomically: true, encoding: .utf8)
        let ckpt = try Checkpoint(directory: dir)
        XCTAssertEqual(ckpt.names, ["a", "b"])
        XCTAssertEqual(try ckpt.tensor("b").toArray(), [3])

        let wrong = #"{"weight_map":{"a":"model-00002-of-00002.safetensors"}}"#
        try wrong.write(
            to: dir.appendingPathComponent("model.safetensors.index.json"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Checkpoint(directory: dir)) { XCTAssertTrue("\($0)".contains("has no tensor a")) }
        let missing = #"{"weight_map":{"a":"model-00009.safetensors"}}"#
        try missing.write(
            to: dir.appendingPathComponent("model.safetensors.index.json"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Checkpoint(directory: dir)) { XCTAssertTrue("\($0)".contains("is missing")) }
    }

    func testEmptyDirectoryAndFailedWrites() throws {
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try Checkpoint(directory: empty)) { XCTAssertTrue("\($0)".contains("no weights found")) }
        let nowhere = dir.appendingPathComponent("no/such/dir/x.safetensors")
        XCTAssertThrowsError(try writeSafetensors(["a": Tensor([1])], to: nowhere)) {
            XCTAssertTrue("\($0)".contains("cannot write"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: nowhere.path))
    }
}
