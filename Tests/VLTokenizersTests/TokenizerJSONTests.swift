import Foundation
import XCTest
@testable import VLTokenizers

/// tokenizer.json in the four LLM layouts against transformers' AutoTokenizer, 220 strings each
/// (tools/fixtures/make_text_tokenizer_fixtures.py).
final class TokenizerJSONTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizers")

    struct Case: Decodable {
        let text: String
        let ids: [Int]
        let decoded: String
        let decoded_skip: String
    }

    func check(_ name: String) throws {
        let dir = Self.root.appendingPathComponent(name)
        let tokenizer = try Tokenizer(directory: dir)
        let cases = try JSONDecoder().decode(
            [Case].self, from: Data(contentsOf: dir.appendingPathComponent("cases.json")))
        XCTAssertGreaterThanOrEqual(cases.count, 200)
        var failures = 0
        for c in cases where failures < 5 {
            let ids = tokenizer.encode(c.text)
            if ids != c.ids { failures += 1 }
            XCTAssertEqual(ids, c.ids, "\(name): ids of \(c.text.debugDescription)")
            XCTAssertEqual(tokenizer.decode(c.ids), c.decoded, "\(name): decoding of \(c.text.debugDescription)")
            XCTAssertEqual(
                tokenizer.decode(c.ids, skipSpecialTokens: true), c.decoded_skip, "\(name): decoding without specials")
        }
        XCTAssertNotNil(tokenizer.tokenId("<image>"))
    }

    func testSentencePieceStyleLegacy() throws { try check("llama2_spm") }
    func testSentencePieceStyleMetaspace() throws { try check("llama2_metaspace") }
    func testGPT2ByteLevel() throws { try check("gpt2_bytelevel") }
    func testLlama3RegexSplit() throws { try check("llama3_split") }
    /// A SentencePiece `tokenizer.model` without tokenizer.json (original LLaMA-2 / Vicuna / LLaVA
    /// directories), `legacy` false and true (tools/fixtures/make_sentencepiece_fixtures.py).
    func testSentencePieceModel() throws { try check("llama2_sentencepiece") }
    func testSentencePieceModelLegacy() throws { try check("llama2_sentencepiece_legacy") }

    func testStreamingNeverSplitsACharacter() throws {
        for name in ["llama2_spm", "gpt2_bytelevel"] {
            let tokenizer = try Tokenizer(directory: Self.root.appendingPathComponent(name))
            let text = "a 😀 b 中文 c"
            let ids = tokenizer.encode(text, addSpecialTokens: false)
            var stream = StreamingDecoder(tokenizer)
            var pieces: [String] = []
            for id in ids { pieces.append(stream.push(id)) }
            pieces.append(stream.finish())
            XCTAssertEqual(pieces.joined(), tokenizer.decode(ids, skipSpecialTokens: true), name)
            for p in pieces { XCTAssertFalse(p.contains("\u{FFFD}"), "\(name): piece \(p.debugDescription)") }
            XCTAssertGreaterThan(pieces.filter { $0.isEmpty }.count, 0, "\(name): some token ended inside a character")
        }
    }

    /// A 128k-entry vocabulary (LLaMA-3 sized) loads well under a second in a release build.
    func testLargeVocabularyLoadTime() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bigtok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var vocab: [String: Int] = [:], merges: [String] = []
        let alphabet = ByteLevel.encoder.map(String.init)
        for (i, c) in alphabet.enumerated() { vocab[c] = i }
        var next = alphabet.count
        var pairs: [String] = []
        for a in alphabet {
            for b in alphabet {
                vocab[a + b] = next
                merges.append(a + " " + b)
                pairs.append(a + b)
                next += 1
            }
        }
        outer: for p in pairs {
            for c in alphabet.prefix(8) {  // three-character tokens up to 128k
                guard next < 128_000 else { break outer }
                vocab[p + c] = next
                merges.append(p + " " + c)
                next += 1
            }
        }
        let json: [String: Any] = [
            "model": ["type": "BPE", "vocab": vocab, "merges": merges],
            "pre_tokenizer": ["type": "ByteLevel", "add_prefix_space": false], "decoder": ["type": "ByteLevel"],
        ]
        try JSONSerialization.data(withJSONObject: json).write(to: dir.appendingPathComponent("tokenizer.json"))
        let start = Date()
        let tokenizer = try Tokenizer(directory: dir)
        let seconds = Date().timeIntervalSince(start)
        print(
            String(
                format: "tokenizer.json with %d tokens and %d merges loaded in %.3f s", tokenizer.vocabSize,
                merges.count, seconds))
        XCTAssertEqual(tokenizer.vocabSize, 128_000)
        XCTAssertEqual(tokenizer.decode(tokenizer.encode("hello world")), "hello world")
    }
}
