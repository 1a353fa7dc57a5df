import Foundation
import XCTest
@testable import VLTokenizers

/// Reading SentencePiece models; their parity with transformers is in TokenizerJSONTests.
final class SentencePieceModelTests: XCTestCase {
    func testMergesFollowTransformersOrder() {
        // "ab" (id 3) splits one way; "abc" (id 5) two ways, ordered by the halves' ids.
        let merges = SentencePieceModel.merges(vocab: ["a", "b", "c", "ab", "bc", "abc"])
        XCTAssertEqual(merges.map { "\($0.0) \($0.1)" }, ["a b", "b c", "a bc", "ab c"])
    }

    /// A unigram model (T5-style) is refused by name rather than read as BPE.
    func testUnigramModelIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // ModelProto { pieces: [{piece: "a", score: 0, type: NORMAL}], trainer_spec: {model_type: UNIGRAM} }
        let piece: [UInt8] = [0x0A, 0x01, 0x61, 0x15, 0, 0, 0, 0, 0x18, 0x01]
        let bytes: [UInt8] = [0x0A, UInt8(piece.count)] + piece + [0x12, 0x02, 0x18, 0x01]
        try Data(bytes).write(to: dir.appendingPathComponent("tokenizer.model"))
        XCTAssertThrowsError(try Tokenizer(directory: dir)) { error in
            XCTAssertTrue("\(error)".contains("a SentencePiece unigram model; only BPE models"), "\(error)")
        }
    }

    func testDamagedModelIsAClearError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = try Data(
            contentsOf: TokenizerJSONTests.root.appendingPathComponent("llama2_sentencepiece/tokenizer.model"))
        try good.prefix(good.count / 2).write(to: dir.appendingPathComponent("tokenizer.model"))
        XCTAssertThrowsError(try Tokenizer(directory: dir)) { error in
            XCTAssertTrue("\(error)".contains("tokenizer.model: not a SentencePiece model"), "\(error)")
        }
        try Data().write(to: dir.appendingPathComponent("tokenizer.model"))
        XCTAssertThrowsError(try Tokenizer(directory: dir)) { error in
            XCTAssertTrue("\(error)".contains("no pieces"), "\(error)")
        }
    }
}
