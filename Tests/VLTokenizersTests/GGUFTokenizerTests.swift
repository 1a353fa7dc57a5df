import Foundation
import XCTest
@testable import VLTokenizers

/// Tokenizers built from GGUF tokenizer metadata against transformers' AutoTokenizer on the same
/// file (tools/fixtures/make_gguf_tokenizer_fixtures.py), and the errors for damaged metadata.
final class GGUFTokenizerTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/gguf_tokenizers")

    struct Case: Decodable {
        let text: String
        let ids: [Int]
        let ids_plain: [Int]
        let decoded: String
        let decoded_skip: String
    }

    struct Added: Decodable, Equatable {
        let id: Int
        let content: String
        let special: Bool
    }

    /// A fixture: the GGUF metadata and what transformers made of it.
    struct Reference {
        let metadata: [String: Any]
        let cases: [Case]
        let added: [Added]?
        let vocabSize: Int?
        let specials: Specials?

        struct Specials: Decodable {
            let bos_token_id: Int?, eos_token_id: Int?, pad_token_id: Int?
            let add_bos_token: Bool, add_eos_token: Bool, has_chat_template: Bool
        }

        init(_ url: URL) throws {
            let data = try Data(contentsOf: url)
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            metadata = try XCTUnwrap(object["metadata"] as? [String: Any])
            struct Rest: Decodable {
                let cases: [Case]
                let added_tokens: [Added]?
                let vocab_size: Int?
                let special_tokens: Specials?
            }
            let rest = try JSONDecoder().decode(Rest.self, from: data)
            (cases, added, vocabSize, specials) = (rest.cases, rest.added_tokens, rest.vocab_size, rest.special_tokens)
        }
    }

    func check(_ url: URL, minimumCases: Int = 20) throws {
        let name = url.lastPathComponent
        let reference = try Reference(url)
        let vocabulary = try GGUFVocabulary(metadata: reference.metadata, file: name)
        let tokenizer = try Tokenizer(gguf: vocabulary, file: name)
        if let s = reference.specials {
            let config = try vocabulary.tokenizerFiles(file: name).tokenizerConfig
            XCTAssertEqual(tokenizer.bosTokenId, s.bos_token_id, "\(name): BOS")
            XCTAssertEqual(tokenizer.eosTokenId, s.eos_token_id, "\(name): EOS")
            XCTAssertEqual(tokenizer.padTokenId, s.pad_token_id, "\(name): padding")
            XCTAssertEqual(config["add_bos_token"] as? Bool, s.add_bos_token, "\(name): add_bos_token")
            XCTAssertEqual(config["add_eos_token"] as? Bool, s.add_eos_token, "\(name): add_eos_token")
            XCTAssertEqual(config["chat_template"] != nil, s.has_chat_template, "\(name): chat template")
        }
        XCTAssertGreaterThanOrEqual(reference.cases.count, minimumCases, name)
        if let added = reference.added {
            let ours = tokenizer.addedTokens.map { Added(id: $0.id, content: $0.content, special: $0.special) }
            XCTAssertEqual(ours, added, "\(name): added tokens")
        }
        if let size = reference.vocabSize { XCTAssertEqual(tokenizer.vocabSize, size, "\(name): vocabulary size") }
        var failures = 0
        for c in reference.cases where failures < 5 {
            let ids = tokenizer.encode(c.text), plain = tokenizer.encode(c.text, addSpecialTokens: false)
            if ids != c.ids || plain != c.ids_plain { failures += 1 }
            XCTAssertEqual(ids, c.ids, "\(name): ids of \(c.text.debugDescription)")
            XCTAssertEqual(plain, c.ids_plain, "\(name): ids without special tokens of \(c.text.debugDescription)")
            XCTAssertEqual(tokenizer.decode(c.ids), c.decoded, "\(name): decoding of \(c.text.debugDescription)")
            XCTAssertEqual(
                tokenizer.decode(c.ids, skipSpecialTokens: true), c.decoded_skip,
                "\(name): decoding without special tokens of \(c.text.debugDescription)")
        }
    }

    func testSmolLM2ByteLevel() throws { try check(Self.root.appendingPathComponent("smollm.json")) }
    func testLlama3Split() throws { try check(Self.root.appendingPathComponent("llama_bpe.json")) }
    func testQwen2Split() throws { try check(Self.root.appendingPathComponent("qwen2.json")) }
    func testSentencePieceWithScores() throws { try check(Self.root.appendingPathComponent("llama_spm.json")) }
    func testPhi3SentencePiece() throws { try check(Self.root.appendingPathComponent("phi3_spm.json")) }
    func testGemma3SentencePiece() throws { try check(Self.root.appendingPathComponent("gemma3_spm.json")) }
    func testGemma4SentencePiece() throws { try check(Self.root.appendingPathComponent("gemma4_spm.json")) }

    // MARK: Damaged metadata

    /// A small valid byte-level vocabulary: "a", "b", "ab", "<s>".
    func vocabulary() -> GGUFVocabulary {
        var v = GGUFVocabulary(model: "gpt2", tokens: ["a", "b", "ab", "<s>"])
        v.merges = ["a b"]
        v.tokenTypes = [1, 1, 1, 3]
        v.bosTokenId = 3
        return v
    }

    func assertError(_ v: GGUFVocabulary, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Tokenizer(gguf: v, file: "bad.gguf"), file: file, line: line) { error in
            XCTAssertTrue(error is TokenizerError, "\(error)", file: file, line: line)
            XCTAssertTrue("\(error)".contains(expected), "\(error)", file: file, line: line)
            XCTAssertTrue("\(error)".hasPrefix("bad.gguf: "), "\(error)", file: file, line: line)
        }
    }

    func testValidSmallVocabulary() throws {
        let tokenizer = try Tokenizer(gguf: vocabulary(), file: "small.gguf")
        XCTAssertEqual(tokenizer.encode("abba<s>", addSpecialTokens: false), [2, 1, 0, 3])
    }

    func testCountMismatches() {
        var v = vocabulary()
        v.scores = [0, 0, 0]
        assertError(v, "tokenizer.ggml.scores has 3 entries for 4 tokens")
        v.scores = [0, .nan, 0, 0]
        assertError(v, "tokenizer.ggml.scores[1] (token 1's score) is not a number")
        v = vocabulary()
        v.tokenTypes = [1, 1, 1, 1, 1]
        assertError(v, "tokenizer.ggml.token_type has 5 entries for 4 tokens")
        v = vocabulary()
        v.tokenTypes = [1, 9, 1, 1]
        assertError(v, "token 1 has type 9")
        v = GGUFVocabulary(model: "gpt2", tokens: [])
        assertError(v, "tokenizer.ggml.tokens is empty")
    }

    func testMalformedMerges() {
        for bad in ["ab", "a  b", "a b c", " b", ""] {
            var v = vocabulary()
            v.merges = ["a b", bad]
            assertError(v, "tokenizer.ggml.merges[1] \"\(bad)\" is not two tokens separated by one space")
        }
        var v = vocabulary()
        v.merges = ["a c"]
        assertError(v, "tokenizer.ggml.merges[0] \"a c\": \"c\" is not a token")
        v.merges = ["b a"]
        assertError(v, "\"ba\" is not a token")
    }

    func testIdsOutOfRange() {
        var v = vocabulary()
        v.bosTokenId = 4
        assertError(v, "tokenizer.ggml.bos_token_id 4 is not a token id (0..<4)")
        v = vocabulary()
        v.eosTokenId = -1
        assertError(v, "tokenizer.ggml.eos_token_id -1 is not a token id")
        v = vocabulary()
        v.unknownTokenId = 1 << 40
        assertError(v, "tokenizer.ggml.unknown_token_id")
        v = vocabulary()
        v.paddingTokenId = 100
        assertError(v, "tokenizer.ggml.padding_token_id 100")
    }

    func testUnsupportedModels() {
        var v = vocabulary()
        v.model = "bert"
        assertError(v, "tokenizer.ggml.model \"bert\" is not supported")
        v.model = "t5"
        assertError(v, "\"t5\" is a unigram tokenizer")
        v = vocabulary()
        v.model = "llama"
        v.merges = nil
        assertError(v, "neither tokenizer.ggml.merges nor tokenizer.ggml.scores")
    }

    func testMetadataOfTheWrongKind() {
        let good: [String: Any] = ["tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": ["a"]]
        XCTAssertNoThrow(try GGUFVocabulary(metadata: good, file: "m.gguf"))
        for (key, value, message) in [
            ("tokenizer.ggml.tokens", [1, 2] as Any, "tokenizer.ggml.tokens is not an array of strings"),
            ("tokenizer.ggml.scores", ["x"] as Any, "tokenizer.ggml.scores is not an array of numbers"),
            ("tokenizer.ggml.token_type", [1.5] as Any, "tokenizer.ggml.token_type is not an array of integers"),
            ("tokenizer.ggml.bos_token_id", "1" as Any, "tokenizer.ggml.bos_token_id is not an integer"),
            ("tokenizer.ggml.add_bos_token", "yes" as Any, "tokenizer.ggml.add_bos_token is not a boolean"),
        ] {
            var m = good
            m[key] = value
            XCTAssertThrowsError(try GGUFVocabulary(metadata: m, file: "m.gguf")) { error in
                XCTAssertTrue("\(error)".contains("m.gguf: \(message)"), "\(error)")
            }
        }
        XCTAssertThrowsError(try GGUFVocabulary(metadata: ["tokenizer.ggml.tokens": ["a"]], file: "m.gguf")) {
            XCTAssertTrue("\($0)".contains("no tokenizer.ggml.model"), "\($0)")
        }
    }

    /// transformers' generate_merges: by score, then the halves' lengths, highest first; ties in order.
    func testMergesFromScores() {
        let merges = GGUFTokenizerBuild.generateMerges(
            tokens: ["a", "b", "c", "ab", "bc", "abc"], scores: [0, 0, 0, -1, -2, -3])
        XCTAssertEqual(merges.map { "\($0.0) \($0.1)" }, ["a b", "b c", "ab c", "a bc"])
    }
}
