import Foundation
import XCTest
import VLImaging
import VLIO
import VLTensor
@testable import VLModels
import VLTestSupport

/// Checkpoints in the original LLaVA repository's layout (tools/fixtures/make_llava_original_fixtures.py):
/// the vision tower found beside the model by its `mm_vision_tower` name, LLaVA-1.5's padded image
/// and mlp2x_gelu projector, LLaVA-1.0's linear projector, the vicuna_v1 prompt tokenized around the
/// image as `tokenizer_image_token` does, against a reference assembled from transformers' modules.
final class LlavaOriginalTests: XCTestCase {
    func testMatchesTheReference() throws {
        let image = try RGBImage(contentsOf: fixturesRoot.appendingPathComponent("llava_original/image.png"))
        for name in ["v15", "v10"] {
            let pipeline = try GenerationPipeline(directory: fixtureDirectory("llava_original", name))
            guard let model = pipeline.model as? LlavaForConditionalGeneration else {
                return XCTFail("\(name): not LLaVA")
            }
            XCTAssertEqual(model.config.projector, name == "v15" ? .mlp : .linear)
            let ref = try reference("llava_original", name)
            assertClose(pipeline.processor!.batch([image]), ref["pixel_values"]!, tol: 1e-6, "\(name) pixels")

            let (ids, embeddings) = try pipeline.prepare(prompt: "What is the color of the circle?", images: [image])
            let expected = ref["input_ids"]!.toInts().flatMap {
                $0 == -200 ? [Int](repeating: -200, count: model.tokensPerImage) : [$0]
            }
            XCTAssertEqual(ids, expected, "\(name): prompt ids")
            assertLastLogitsAndGreedy(model.language_model, embeddings: embeddings, ids: ids, ref, name)
        }
    }

    func testMissingVisionTowerNamesWhereItLooked() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-orig-\(UUID().uuidString)/model")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        for f in ["config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json"] {
            try FileManager.default.copyItem(
                at: fixtureDirectory("llava_original", "v15").appendingPathComponent(f),
                to: dir.appendingPathComponent(f))
        }
        XCTAssertThrowsError(try ModelRegistry.load(ModelDirectory(dir))) { error in
            let text = "\(error)"
            XCTAssertTrue(
                text.contains("the vision tower \"openai/clip-vit-tiny\" (mm_vision_tower) was not found"), text)
            XCTAssertTrue(text.contains("clip-vit-tiny"), text)
        }
    }

    /// Config values the original layout cannot honour are errors naming the field.
    func testUnsupportedConfigValuesNameTheField() throws {
        let source = fixtureDirectory("llava_original", "v15")
        let config =
            try JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json")))
            as! [String: Any]
        for (key, value, expected) in [
            ("mm_projector_type", "mlp3x_gelu" as Any, "mm_projector_type \"mlp3x_gelu\" is not supported"),
            ("mm_vision_select_feature", "cls" as Any, "mm_vision_select_feature \"cls\" is not supported"),
            ("mm_use_im_start_end", true as Any, "mm_use_im_start_end"),
            ("mm_hidden_size", 1024 as Any, "mm_hidden_size 1024 does not match the vision tower's width 24"),
        ] {
            let dir = fixturesRoot.appendingPathComponent("llava_original/bad-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            var changed = config
            changed[key] = value
            try JSONSerialization.data(withJSONObject: changed).write(to: dir.appendingPathComponent("config.json"))
            XCTAssertThrowsError(try ModelRegistry.load(ModelDirectory(dir))) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(key): \(error)")
            }
        }
    }

    func testPadToSquareCentresTheImage() {
        let image = RGBImage(width: 3, height: 1, pixels: [1, 1, 1, 2, 2, 2, 3, 3, 3])
        let square = image.paddedToSquare(background: [9, 8, 7])
        XCTAssertEqual(square.width, 3)
        XCTAssertEqual(Array(square.pixels[0..<9]), [9, 8, 7, 9, 8, 7, 9, 8, 7])
        XCTAssertEqual(Array(square.pixels[9..<18]), [1, 1, 1, 2, 2, 2, 3, 3, 3])
        XCTAssertEqual(Array(square.pixels[18..<27]), [9, 8, 7, 9, 8, 7, 9, 8, 7])
    }
}
