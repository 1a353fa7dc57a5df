import VLFiles
import VLIO
import XCTest
import VLNN
import VLTensor
@testable import VLModels
import VLTestSupport

/// CLIP checkpoints written by transformers (random weights) give transformers' numbers.
final class CLIPParityTests: XCTestCase {
    func load(_ name: String) throws -> CLIPModel {
        let m = try CLIPModel.load(directory: fixtureDirectory("clip", name))
        return m
    }

    func testEmbeddingsLogitsAndHiddenStatesMatchTransformers() throws {
        for name in ["quick_gelu", "gelu_eos2", "f16", "real_vocab"] {
            let model = try load(name)
            let ref = try reference("clip", name)
            let pixels = ref["pixel_values"]!, ids = ref["input_ids"]!, mask = ref["attention_mask"]!
            noGrad {
                let out = model(pixels: pixels, ids: ids, attentionMask: mask)
                assertClose(out.imageEmbeds, ref["image_embeds"]!, "\(name) image_embeds")
                assertClose(out.textEmbeds, ref["text_embeds"]!, "\(name) text_embeds")
                assertClose(out.logitsPerImage, ref["logits_per_image"]!, "\(name) logits_per_image")
                let vision = model.vision_model(pixels, outputHiddenStates: true)
                // transformers 5 reports the projected features as the towers' pooler_output.
                assertClose(model.visual_projection(vision.pooled), ref["vision_pooled"]!, "\(name) vision pooled")
                assertClose(
                    vision.hiddenStates[vision.hiddenStates.count - 2], ref["vision_hidden_minus2"]!,
                    "\(name) hidden_states[-2]")
                let text = model.text_model(ids, attentionMask: mask)
                assertClose(model.text_projection(text.pooled), ref["text_pooled"]!, "\(name) text pooled")
                // Padded positions differ by design (transformers still computes them); compare real tokens.
                let real = text.lastHiddenState.narrow(0, start: 1, length: 1)
                assertClose(real, ref["text_last_hidden"]!.narrow(0, start: 1, length: 1), "\(name) text last hidden")
            }
        }
    }

    func testContrastiveLossAndGradientsMatchTransformers() throws {
        let model = try load("quick_gelu")
        model.train()
        let ref = try reference("clip", "quick_gelu")
        let ids = ref["input_ids"]!.narrow(0, start: 0, length: 2),
            mask = ref["attention_mask"]!.narrow(0, start: 0, length: 2)
        let loss = contrastiveLoss(
            logitsPerText: model(pixels: ref["pixel_values"]!, ids: ids, attentionMask: mask).logitsPerText)
        assertClose(loss.reshape([1]), ref["itc_loss"]!, "itc loss")
        loss.backward()
        let params = Dictionary(uniqueKeysWithValues: model.namedParameters())
        for (key, expected) in ref where key.hasPrefix("grad.") {
            let name = String(key.dropFirst(5))
            let grad = try XCTUnwrap(params[name]?.grad, "no gradient for \(name)")
            assertClose(grad.reshape([-1]), expected, tol: 1e-4, "gradient of \(name)")
        }
    }

    func testLoadingRefusesAnotherModelType() {
        XCTAssertThrowsError(try CLIPConfig(ConfigReader(["model_type": "llama"], source: "config.json"))) { error in
            XCTAssertTrue("\(error)".contains("model_type is \"llama\", expected \"clip\""), "\(error)")
        }
    }
}
