import Foundation
import XCTest
import VLImaging
import VLModels
@testable import VLServer

/// /v1/embeddings on a CLIP model gives the embeddings of `CLIPPipeline` (as `vlkit clip embed`).
final class EmbeddingsTests: XCTestCase {
    static let directory = fixture("clip/real_vocab")
    static let reference = try! CLIPPipeline(directory: directory)
    static let running = try! RunningServer(model: .clip(try! CLIPPipeline(directory: directory)), id: "clip")

    override class func tearDown() { running.stop() }

    func testTextAndImageInputsInOrder() throws {
        let (status, json, _) = try Self.running.post(
            "/v1/embeddings", ["model": "clip", "input": ["a photo of a cat", try dataURL("rgb.png"), "a dog"]])
        XCTAssertEqual(status, 200, "\(json)")
        let data = json["data"] as? [[String: Any]] ?? []
        XCTAssertEqual(data.map { $0["index"] as? Int }, [0, 1, 2])
        let vectors = data.map { ($0["embedding"] as? [Double] ?? []).map(Float.init) }
        let texts = Self.reference.textEmbeddings(["a photo of a cat", "a dog"]).toArray()
        let image = Self.reference.imageEmbeddings([try RGBImage(contentsOf: fixture("images/rgb.png"))]).toArray()
        let width = image.count
        XCTAssertEqual(vectors[1].count, width)
        for (got, want) in [
            (vectors[0], Array(texts[0..<width])), (vectors[1], image), (vectors[2], Array(texts[width...])),
        ] {
            XCTAssertLessThan(zip(got, want).map { abs($0 - $1) }.max() ?? 1, 1e-5)
        }
        XCTAssertGreaterThan((json["usage"] as? [String: Int])?["prompt_tokens"] ?? 0, 0)
    }

    func testBase64EncodingCarriesTheSameFloats() throws {
        let (_, floats, _) = try Self.running.post("/v1/embeddings", ["model": "clip", "input": "a cat"])
        let (status, packed, _) = try Self.running.post(
            "/v1/embeddings", ["model": "clip", "input": "a cat", "encoding_format": "base64"])
        XCTAssertEqual(status, 200)
        let text = (packed["data"] as? [[String: Any]])?.first?["embedding"] as? String ?? ""
        let bytes = Data(base64Encoded: text) ?? Data()
        let decoded = bytes.withUnsafeBytes { raw in
            (0..<(bytes.count / 4)).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
            }
        }
        let want = ((floats["data"] as? [[String: Any]])?.first?["embedding"] as? [Double] ?? []).map(Float.init)
        XCTAssertEqual(decoded.count, want.count)
        XCTAssertLessThan(zip(decoded, want).map { abs($0 - $1) }.max() ?? 1, 1e-6)
    }

    func testASingleStringAndBadInputs() throws {
        let (status, json, _) = try Self.running.post("/v1/embeddings", ["model": "clip", "input": "a cat"])
        XCTAssertEqual(status, 200)
        XCTAssertEqual((json["data"] as? [Any])?.count, 1)
        for (body, code) in [
            (["model": "clip", "input": []] as [String: Any], "invalid_value"),
            (["model": "clip", "input": [""]], "invalid_value"),
            (["model": "clip", "input": 3], "invalid_type"), (["model": "other", "input": "x"], "model_not_found"),
            (["model": "clip", "input": "data:image/png;base64,AAAA"], "invalid_image"),
            (["model": "clip", "input": String(repeating: "a", count: 10_001)], "invalid_value"),
        ] {
            let (status, json, _) = try Self.running.post("/v1/embeddings", body)
            XCTAssertTrue([400, 422].contains(status), "\(body)")
            XCTAssertEqual(errorObject(json).code, code, "\(body)")
        }
        let (chatStatus, chat, _) = try Self.running.post(
            "/v1/chat/completions", ["model": "clip", "messages": [["role": "user", "content": "hi"]]])
        XCTAssertEqual(chatStatus, 400)
        XCTAssertEqual(errorObject(chat).code, "model_not_supported")
    }
}
