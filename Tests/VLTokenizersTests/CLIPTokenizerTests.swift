import Foundation
import XCTest
@testable import VLTokenizers

/// Parity with transformers' CLIP tokenizer on 260 strings (tools/fixtures/make_tokenizer_fixtures.py).
final class CLIPTokenizerTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let modelDir = fixtures.appendingPathComponent("clip/real_vocab")

    struct Case: Decodable {
        let text: String
        let ids: [Int]
        let padded: [Int]
        let mask: [Int]
        let decoded: String
    }

    func testIdsPaddingAndDecodingMatchTransformers() throws {
        let start = Date()
        let tokenizer = try CLIPTokenizer(directory: Self.modelDir)
        print("CLIP tokenizer (49,408 tokens) loaded in \(String(format: "%.3f", Date().timeIntervalSince(start))) s")
        XCTAssertEqual(tokenizer.vocabSize, 49408)
        let cases = try JSONDecoder().decode(
            [Case].self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("clip_tokenizer_cases.json")))
        XCTAssertGreaterThanOrEqual(cases.count, 250)
        for c in cases {
            XCTAssertEqual(tokenizer.encode(c.text), c.ids, "ids of \(c.text.debugDescription)")
            let batch = tokenizer([c.text])
            XCTAssertEqual(batch.ids[0], c.padded, "padded ids of \(c.text.debugDescription)")
            XCTAssertEqual(batch.attentionMask[0], c.mask, "mask of \(c.text.debugDescription)")
            XCTAssertEqual(tokenizer.decode(c.ids), c.decoded, "decoding of \(c.text.debugDescription)")
        }
    }

    func testTokenizerJSONGivesTheSameIds() throws {
        // A small tokenizer.json in transformers 5's format: the first 2,000 merges of the real vocabulary.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cliptok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let merges = Array(try BPEFiles.readMerges(Self.modelDir.appendingPathComponent("merges.txt")).prefix(2000))
        let vocab = try BPEFiles.readVocab(Self.modelDir.appendingPathComponent("vocab.json"))
        let json: [String: Any] = [
            "model": [
                "type": "BPE", "vocab": vocab, "merges": merges.map { [$0.0, $0.1] }, "end_of_word_suffix": "</w>",
            ],
            "added_tokens": [["id": 49406, "content": "<|startoftext|>"], ["id": 49407, "content": "<|endoftext|>"]],
        ]
        try JSONSerialization.data(withJSONObject: json).write(to: dir.appendingPathComponent("tokenizer.json"))
        let fromJSON = try CLIPTokenizer(directory: dir)
        let reference = BytePairEncoder(vocab: vocab, merges: merges, endOfWordSuffix: "</w>")
        for text in ["a photo of a cat", "Straße 1234 café!", "🙂 two dogs"] {
            let expected =
                [49406]
                + CLIPTokenizer.preTokenize(CLIPTokenizer.normalize(text))
                .flatMap { reference.encode(word: ByteLevel.encode($0)) } + [49407]
            XCTAssertEqual(fromJSON.encode(text), expected, text)
        }
    }

    func testBadTokenizerFilesAreNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("badtok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try CLIPTokenizer(directory: dir)) {
            XCTAssertTrue("\($0)".contains("no tokenizer files"))
        }
        try "{not json".write(to: dir.appendingPathComponent("vocab.json"), atomically: true, encoding: .utf8)
        try "#version: 0.2\na b\n".write(
            to: dir.appendingPathComponent("merges.txt"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CLIPTokenizer(directory: dir)) {
            XCTAssertTrue("\($0)".contains("vocab.json is not a JSON object"), "\($0)")
        }
        try #"{"a": 0, "b": 1}"#.write(to: dir.appendingPathComponent("vocab.json"), atomically: true, encoding: .utf8)
        try "#version: 0.2\na b\nthree parts here\n".write(
            to: dir.appendingPathComponent("merges.txt"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CLIPTokenizer(directory: dir)) {
            XCTAssertTrue("\($0)".contains("line 3 is not a merge"), "\($0)")
        }
        try "#version: 0.2\na b\n".write(
            to: dir.appendingPathComponent("merges.txt"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try CLIPTokenizer(directory: dir)) {
            XCTAssertTrue("\($0)".contains("is not in the vocabulary"), "\($0)")
        }
    }
}
