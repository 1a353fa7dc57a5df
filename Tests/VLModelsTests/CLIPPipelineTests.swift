import Foundation
import XCTest
import VLImaging
import VLIO
import VLTensor
@testable import VLModels
import VLTestSupport

/// Image files and prompts through tokenizer, processor and model match transformers end to end.
final class CLIPPipelineTests: XCTestCase {
    func testEndToEndMatchesTransformers() throws {
        let pipeline = try CLIPPipeline(directory: fixtureDirectory("clip", "real_vocab"))
        let ref = try loadSafetensors(
            path: fixturesRoot.appendingPathComponent("clip_pipeline_reference.safetensors").path)
        let images = try ["rgb.png", "baseline.jpg", "orientation6.jpg"].map {
            try RGBImage(contentsOf: fixturesRoot.appendingPathComponent("images").appendingPathComponent($0))
        }
        let texts = ["a photo of a cat.", "a photo of a dog.", "a photo of a red car parked on the street."]
        let imageEmbeds = pipeline.imageEmbeddings(images), textEmbeds = pipeline.textEmbeddings(texts)
        assertClose(imageEmbeds, ref["image_embeds"]!, "image_embeds")
        assertClose(textEmbeds, ref["text_embeds"]!, "text_embeds")
        assertClose(
            pipeline.logitsPerImage(imageEmbeds: imageEmbeds, textEmbeds: textEmbeds), ref["logits_per_image"]!,
            "logits")
        let ranked = pipeline.classify(images[0], labels: ["cat", "dog"])
        XCTAssertEqual(ranked.map(\.probability).reduce(0, +), 1, accuracy: 1e-5)
        XCTAssertGreaterThanOrEqual(ranked[0].probability, ranked[1].probability)
    }

    func testAnotherModelTypeIsRefused() {
        XCTAssertThrowsError(try CLIPPipeline(directory: fixtureDirectory("llama", "gqa_untied"))) {
            XCTAssertTrue("\($0)".contains("model_type is \"llama\"; this needs clip"), "\($0)")
        }
    }
}
