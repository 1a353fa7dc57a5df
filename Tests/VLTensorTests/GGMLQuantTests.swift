import CKernels
import Foundation
import VLTensor
import VLTestSupport
import XCTest

/// ggml's block-quantised types (CKernels/ggml_*.c): de-quantisation bit for bit as gguf-py's
/// (tools/fixtures/make_gguf_quant_fixtures.py), and the GEMV from the blocks against the
/// de-quantised weights on every instruction-set level.
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
    static let gemvTypes: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    /// Byte offsets of each type's half scale fields (d, m / dmin) within a block.
    static let halfFields: [GGMLType: [Int]] = [
        .q4_0: [0], .q4_1: [0, 2], .q5_0: [0], .q5_1: [0, 2], .q8_0: [0],
        .q2_K: [80, 82], .q3_K: [108], .q4_K: [0, 2], .q5_K: [0, 2], .q6_K: [208],
    ]

    /// On every instruction-set level (the AVX-512 path and the portable C give the same bits).
    func testDequantizeMatchesGGUFPy() throws {
        defer { ck_ggml_limit_isa(2) }
        for level in [2, 1, 0] {
            ck_ggml_limit_isa(Int32(level))
            try checkFixtures(level: level)
        }
    }

    func checkFixtures(level: Int) throws {
        let dir = fixturesRoot.appendingPathComponent("gguf_quants")
        let blob = try Data(contentsOf: dir.appendingPathComponent("quants.bin"))
        let manifest = try JSONDecoder().decode(
            Manifest.self, from: Data(contentsOf: dir.appendingPathComponent("quants.json")))
        var covered = Set<Int32>()
        for c in manifest.cases {
            let name = "\(c.name) level \(level)"
            let type = try XCTUnwrap(GGMLType(rawValue: UInt32(c.type)), name)
            XCTAssertEqual(c.raw[1], c.rows * type.rowBytes(c.k)!, name)
            XCTAssertEqual(c.values[1], c.rows * c.k, name)
            let raw = [UInt8](blob[c.raw[0]..<(c.raw[0] + c.raw[1])])
            let want: [UInt32] = blob[c.values[0]..<(c.values[0] + 4 * c.values[1])].withUnsafeBytes { b in
                (0..<c.values[1]).map { UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
            }
            var got = [Float](repeating: .nan, count: c.rows * c.k)
            XCTAssertEqual(ck_ggml_dequantize(c.type, raw, got.count, &got), 0, name)
            if let i = (0..<got.count).first(where: { got[$0].bitPattern != want[$0] }) {
                let count = (0..<got.count).filter { got[$0].bitPattern != want[$0] }.count
                XCTFail("\(name): \(count) values differ, first [\(i)] \(got[i]) vs \(Float(bitPattern: want[i]))")
            }
            covered.insert(c.type)
        }
        XCTAssertEqual(covered, Set(Self.dequantizable.map { Int32($0.rawValue) }), "a type has no fixture")
    }

    /// The AVX-512 de-quantisation against the portable C, bit for bit, on 3001 random blocks of every type
    /// (random bytes, finite half scales; F32, F16, BF16: 96 032 random values, F16's with NaNs and
    /// subnormals): the whole run, and runs of 1, 3, 7, 8, 17 blocks and random lengths from random blocks
    /// into a destination that is not 64-byte aligned.
    func testDequantizeLevelsAgree() {
        var rng = RandomGenerator(seed: 11)
        defer { ck_ggml_limit_isa(2) }
        for type in Self.dequantizable {
            let id = Int32(type.rawValue), bs = type.blockSize, blocks = bs == 1 ? 3001 * 32 : 3001
            let src: [UInt8] =
                Self.halfFields[type] == nil
                ? (0..<(blocks * type.blockBytes)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                : randomBlocks(type, rows: 1, blocks: blocks, rowBytes: blocks * type.blockBytes, rng: &rng)
            var runs = [(0, blocks)] + [1, 3, 7, 8, 17].map { (Int(rng.next() % UInt64(blocks - $0)), $0) }
            for _ in 0..<4 {
                let start = Int(rng.next() % UInt64(blocks))
                runs.append((start, 1 + Int(rng.next() % UInt64(blocks - start))))
            }
            for (start, count) in runs {
                let n = count * bs, at = 1 + Int(rng.next() % 15)  // floats before the output
                var outs = [[Float]]()
                for level in [0, 2] {
                    ck_ggml_limit_isa(Int32(level))
                    var out = [Float](repeating: Float(bitPattern: 0x7FC0_0000 + UInt32(level)), count: n + at + 16)
                    let rc = src.withUnsafeBytes { s in
                        out.withUnsafeMutableBufferPointer { o in
                            ck_ggml_dequantize(id, s.baseAddress! + start * type.blockBytes, n, o.baseAddress! + at)
                        }
                    }
                    XCTAssertEqual(rc, 0, type.name)
                    XCTAssert(
                        out[..<at].allSatisfy { $0.bitPattern == 0x7FC0_0000 + UInt32(level) }
                            && out[(at + n)...].allSatisfy { $0.bitPattern == 0x7FC0_0000 + UInt32(level) },
                        "\(type.name) level \(level): wrote outside its output")
                    outs.append(Array(out[at..<(at + n)]))
                }
                let differ = (0..<n).filter { outs[0][$0].bitPattern != outs[1][$0].bitPattern }
                if let i = differ.first {
                    XCTFail(
                        "\(type.name) blocks \(start)..<\(start + count): \(differ.count) values differ, first [\(i)] "
                            + "portable \(outs[0][i]) vs AVX-512 \(outs[1][i])")
                }
            }
        }
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
        defer { ck_ggml_limit_isa(2) }
        for level in [2, 1, 0] {
            ck_ggml_limit_isa(Int32(level))
            for id in [GGMLType.q8_1, .q8_K].map({ Int32($0.rawValue) }) + [4, 5, 16, 99, -1] {
                XCTAssertEqual(ck_ggml_dequantize(id, src, 256, &out), -1, "type \(id) level \(level)")
            }
        }
        XCTAssertEqual(out, [Float](repeating: 7, count: 256), "an unsupported type wrote output")
        for t in GGMLType.allCases {
            XCTAssertEqual(ck_ggml_has_gemv(Int32(t.rawValue)), Self.gemvTypes.contains(t) ? 1 : 0, t.name)
            XCTAssertEqual(ck_ggml_x_bytes(Int32(t.rawValue), 512) > 0, Self.gemvTypes.contains(t), t.name)
        }
        for id: Int32 in [4, 99] { XCTAssertEqual(ck_ggml_has_gemv(id), 0) }
    }

    /// ck_ggml_gemv against Σ x · (de-quantised w) in double. x is quantised per block of the type's block
    /// size to int8 with d = amax / 127, which moves each value by at most amax / 254: the result may be off
    /// by that times Σ|w| of the block, plus float rounding. With x already on that grid (integers times a
    /// power of two, ±127 in every block) only the rounding remains. n not a multiple of 16; odd numbers of
    /// blocks, and for the 32-weight types whole groups of eight blocks with and without a tail.
    func testGEMVMatchesDequantizedProduct() throws {
        var rng = RandomGenerator(seed: 7)
        defer { ck_ggml_limit_isa(2) }
        for type in Self.gemvTypes {
            let blockCounts = type.blockSize == 32 ? [1, 3, 8, 33] : [1, 3, 5]
            for (nb, n) in zip(blockCounts, [37, 7, 20, 1]) {
                let k = nb * type.blockSize, id = Int32(type.rawValue)
                let rowBytes = type.rowBytes(k)! + 40  // a stride wider than the row
                let w = randomBlocks(type, rows: n, blocks: nb, rowBytes: rowBytes, rng: &rng)
                var wd = [Float](repeating: 0, count: n * k)
                w.withUnsafeBytes { src in
                    wd.withUnsafeMutableBufferPointer { dst in
                        for j in 0..<n {
                            XCTAssertEqual(
                                ck_ggml_dequantize(id, src.baseAddress! + j * rowBytes, k, dst.baseAddress! + j * k), 0)
                        }
                    }
                }
                for onGrid in [false, true] {
                    let x = onGrid ? gridX(k, blockSize: type.blockSize, rng: &rng) : randomX(k, rng: &rng)
                    let prepared = UnsafeMutableRawPointer.allocate(byteCount: ck_ggml_x_bytes(id, k), alignment: 64)
                    defer { prepared.deallocate() }
                    ck_ggml_prepare_x(id, x, k, prepared)
                    // One preparation for every level: the prepared bytes are the same on all of them.
                    for level in [2, 1, 0] {
                        ck_ggml_limit_isa(Int32(level))
                        for accumulate in [false, true] {
                            let alpha: Float = accumulate ? -0.75 : 1.5
                            let y0 = (0..<n).map { _ in rng.nextFloat() * 4 - 2 }
                            var y = y0
                            ck_ggml_gemv(id, n, k, w, rowBytes, prepared, &y, alpha, accumulate ? 1 : 0)
                            let context = "\(type.name) level \(level) k=\(k) grid=\(onGrid) acc=\(accumulate)"
                            for j in 0..<n {
                                let (dot, bound) = reference(
                                    x, Array(wd[(j * k)..<((j + 1) * k)]), blockSize: type.blockSize, onGrid: onGrid)
                                let want = (accumulate ? Double(y0[j]) : 0) + Double(alpha) * dot
                                XCTAssertLessThanOrEqual(
                                    abs(Double(y[j]) - want), Double(abs(alpha)) * bound + 1e-6, "\(context) row \(j)")
                            }
                        }
                    }
                }
            }
        }
    }

    /// Σ x · w in double, and how far the GEMV may be from it: amax / 254 · Σ|w| per block for the int8 x
    /// (none on the grid) and 2·10⁻⁶ of Σ|x · w| for float rounding.
    func reference(_ x: [Float], _ w: [Float], blockSize: Int, onGrid: Bool) -> (Double, Double) {
        var dot = 0.0, magnitude = 0.0, xError = 0.0
        for b in 0..<(x.count / blockSize) {
            var amax: Float = 0, wsum = 0.0
            for p in (b * blockSize)..<((b + 1) * blockSize) {
                dot += Double(x[p]) * Double(w[p])
                magnitude += abs(Double(x[p]) * Double(w[p]))
                amax = max(amax, abs(x[p]))
                wsum += abs(Double(w[p]))
            }
            xError += Double(amax) / 254 * wsum
        }
        return (dot, (onGrid ? 0 : xError * 1.001) + 2e-6 * magnitude)
    }

    /// Random bytes for `rows` rows of `blocks` blocks each, `rowBytes` apart (the bytes after each row are
    /// noise the GEMV must not read), with every half field a finite value in ±0.1.
    func randomBlocks(_ type: GGMLType, rows: Int, blocks: Int, rowBytes: Int, rng: inout RandomGenerator) -> [UInt8] {
        var bytes = (0..<(rows * rowBytes)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        for j in 0..<rows {
            for b in 0..<blocks {
                for at in Self.halfFields[type]! {
                    let h = Float16(rng.nextFloat() * 0.2 - 0.1).bitPattern, i = j * rowBytes + b * type.blockBytes + at
                    bytes[i] = UInt8(h & 0xFF)
                    bytes[i + 1] = UInt8(h >> 8)
                }
            }
        }
        return bytes
    }

    /// Uniform values in ±1, every 29th six times larger (activations have such outliers).
    func randomX(_ k: Int, rng: inout RandomGenerator) -> [Float] {
        (0..<k).map { p in (rng.nextFloat() * 2 - 1) * (p % 29 == 3 ? 6 : 1) }
    }

    /// Values the int8 quantisation represents exactly: integers in −127…127 times 2⁻⁵, ±127 in every block.
    func gridX(_ k: Int, blockSize: Int, rng: inout RandomGenerator) -> [Float] {
        var x = (0..<k).map { _ in Float(Int(rng.next() % 255) - 127) / 32 }
        for b in 0..<(k / blockSize) {
            x[b * blockSize + Int(rng.next() % UInt64(blockSize))] =
                rng.next() % 2 == 0 ? Float(127) / 32 : Float(-127) / 32
        }
        return x
    }
}
