import Foundation
import XCTest
import VLImaging
import VLIO
import VLTensor
@testable import VLModels
import VLTestSupport

/// A checkpoint in the released mPLUG-Owl layout (tools/fixtures/make_mplug_owl_fixtures.py: the
/// released names and config.json, a plain-torch re-implementation of X-PLUG/mPLUG-Owl's vision
/// tower and abstractor as reference): the processor's square resize, the released prompt with
/// `<image>` as queries + vit_eos tokens of id -1, vision features, abstractor outputs, logits
/// and 20 greedy tokens.
final class MPlugOwlCheckpointTests: XCTestCase {
    let directory = fixturesRoot.appendingPathComponent("mplug_owl")

    func testMatchesTheReference() throws {
        let ref = try loadSafetensors(path: directory.appendingPathComponent("reference.safetensors").path)
        let pipeline = try GenerationPipeline(directory: directory)
        guard let model = pipeline.model as? MPlugOwlForConditionalGeneration else { return XCTFail("not mPLUG-Owl") }
        XCTAssertEqual(model.config.visionTower, .mplugOwl)
        XCTAssertEqual(model.tokensPerImage, 6, "5 queries + vit_eos")
        let image = try RGBImage(contentsOf: directory.appendingPathComponent("image.png"))
        let pixels = pipeline.processor!.batch([image])
        assertClose(pixels, ref["pixel_values"]!, tol: 1e-5, "pixels")

        let (ids, embeddings) = try pipeline.prepare(prompt: "What is the color of the circle?", images: [image])
        XCTAssertEqual(ids, ref["input_ids"]!.toInts(), "prompt ids")
        noGrad {
            assertClose(model.visionFeatures(pixels), ref["vision_features"]!, "vision features")
            assertClose(model.imageFeatures(pixels), ref["image_features"]!, "abstractor outputs")
        }
        assertLastLogitsAndGreedy(model.language_model, embeddings: embeddings, ids: ids, ref, "mplug-owl")
    }

    func testTheVisionTowersFusedProjectionIsGroupedPerHead() throws {
        var c = MPlugOwlConfig.releasedVisionDefaults
        (c.hiddenSize, c.intermediateSize, c.numHiddenLayers, c.numAttentionHeads, c.imageSize, c.patchSize) = (
            4, 8, 1, 2, 4, 2
        )
        let attention = MPlugOwlVisionModel(c).encoder.layers[0].self_attn
        // Rows [q0 k0 v0 q1 k1 v1] per head (2 wide): with v the only non-zero part, the output is v.
        var w = [Float](repeating: 0, count: 12 * 4)
        for head in 0..<2 { for j in 0..<2 { w[(head * 6 + 4 + j) * 4 + head * 2 + j] = 1 } }
        try attention.load(stateDict: [
            "query_key_value.weight": Tensor(w, shape: [12, 4]), "query_key_value.bias": .zeros([12]),
            "dense.weight": Tensor([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], shape: [4, 4]),
            "dense.bias": .zeros([4]),
        ])
        let x = Tensor([1, 2, 3, 4, 5, 6, 7, 8], shape: [1, 2, 4])
        let out = noGrad { attention(x) }
        // Uniform attention (q = k = 0): every token gets the mean of the values.
        XCTAssertEqual(out.toArray(), [3, 4, 5, 6, 3, 4, 5, 6])
    }
}
