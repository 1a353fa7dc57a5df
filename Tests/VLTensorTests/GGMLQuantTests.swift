import CKernels
import Foundation
import VLTensor
import VLTestSupport
import XCTest

/// ggml's block-quantised types (CKernels/ggml_*.c): de-quantisation bit for bit as gguf-py's
/// (tools/fixtures/make_gguf_quant_fixtures.py).
final class GGMLQuantTests: XCTestCase {
    struct Case: Decodable {
        let name: String
        let type: Int32
        let rows: Int
        let k: Int
        let raw: [Int]  // offset, bytes
        let values: [Int]  // offset, float count
    }
    struct Manifest: Decodable { let cases: [Case] }

    static let dequantizable: [GGMLType] = [
        .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K,
    ]
    func testDequantizeMatchesGGUFPy() throws {
        let dir = fixturesRoot.appendingPathComponent("gguf_quants")
        let blob = try Data(contentsOf: dir.appendingPathComponent("quants.bin"))
        let manifest = try JSONDecoder().decode(
            Manifest.self, from: Data(contentsOf: dir.appendingPathComponent("quants.json")))
        var covered = Set<Int32>()
        for c in manifest.cases {
            let type = try XCTUnwrap(GGMLType(rawValue: UInt32(c.type)), c.name)
            XCTAssertEqual(c.raw[1], c.rows * type.rowBytes(c.k)!, c.name)
            XCTAssertEqual(c.values[1], c.rows * c.k, c.name)
            let raw = [UInt8](blob[c.raw[0]..<(c.raw[0] + c.raw[1])])
            let want: [UInt32] = blob[c.values[0]..<(c.values[0] + 4 * c.values[1])].withUnsafeBytes { b in
                (0..<c.values[1]).map { UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
            }
            var got = [Float](repeating: .nan, count: c.rows * c.k)
            XCTAssertEqual(ck_ggml_dequantize(c.type, raw, got.count, &got), 0, c.name)
            if let i = (0..<got.count).first(where: { got[$0].bitPattern != want[$0] }) {
                let count = (0..<got.count).filter { got[$0].bitPattern != want[$0] }.count
                XCTFail("\(c.name): \(count) values differ, first [\(i)] \(got[i]) vs \(Float(bitPattern: want[i]))")
            }
            covered.insert(c.type)
        }
        XCTAssertEqual(covered, Set(Self.dequantizable.map { Int32($0.rawValue) }), "a type has no fixture")
    }

    func testGeometryMatchesSwiftTable() {
        for t in GGMLType.allCases {
            XCTAssertEqual(ck_ggml_block_size(Int32(t.rawValue)), t.blockSize, t.name)
            XCTAssertEqual(ck_ggml_block_bytes(Int32(t.rawValue)), t.blockBytes, t.name)
        }
        for id: Int32 in [4, 5, 16, 29, 31, 99, -1] {
            XCTAssertEqual(ck_ggml_block_size(id), 0)
            XCTAssertEqual(ck_ggml_block_bytes(id), 0)
        }
    }

    func testUnsupportedTypesAreRefused() {
        var out = [Float](repeating: 7, count: 256)
        let src = [UInt8](repeating: 0, count: 2048)
        for id in [GGMLType.q8_1, .q8_K].map({ Int32($0.rawValue) }) + [4, 5, 16, 99, -1] {
            XCTAssertEqual(ck_ggml_dequantize(id, src, 256, &out), -1, "type \(id)")
        }
        XCTAssertEqual(out, [Float](repeating: 7, count: 256), "an unsupported type wrote output")
    }
}
