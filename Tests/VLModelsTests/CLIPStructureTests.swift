import Foundation
import XCTest
import VLNN
import VLTensor
@testable import VLModels

func tinyCLIPConfig() -> CLIPConfig {
    var c = CLIPConfig()
    c.projectionDim = 12
    c.vision.hiddenSize = 16
    c.vision.intermediateSize = 32
    c.vision.numHiddenLayers = 2
    c.vision.numAttentionHeads = 2
    c.vision.imageSize = 16
    c.vision.patchSize = 8
    c.text.vocabSize = 50
    c.text.hiddenSize = 16
    c.text.intermediateSize = 24
    c.text.numHiddenLayers = 2
    c.text.numAttentionHeads = 4
    c.text.maxPositionEmbeddings = 10
    c.text.eosTokenId = 49
    return c
}

final class CLIPStructureTests: XCTestCase {
    /// The pooled-only paths (last layer at the pooled rows alone) give the full forward's pooled
    /// values and the same parameter gradients, with end-of-text tokens at different positions and
    /// padding after them.
    func testPooledOnlyPathsMatchTheFullForward() throws {
        GlobalRandom.seed(4)
        let model = try CLIPModel(tinyCLIPConfig())
        var rng = RandomGenerator(seed: 9)
        let ids = Tensor(
            ints: [
                3, 7, 49, 0, 0, 0, 0, 0, 0, 0,
                5, 6, 8, 9, 10, 11, 12, 13, 14, 49,
                20, 21, 22, 23, 49, 1, 1, 1, 1, 1,
            ], shape: [3, 10])
        let mask = Tensor(
            [1, 1, 1, 0, 0, 0, 0, 0, 0, 0] + [Float](repeating: 1, count: 10) + [1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
            shape: [3, 10])
        let pixels = Tensor.randn([3, 3, 16, 16], rng: &rng)
        let probe = Tensor.randn([3, 16], rng: &rng)
        func gradients(_ pooled: () -> (Tensor, Tensor)) -> (values: [Float], grads: [String: [Float]]) {
            for (_, p) in model.namedParameters() { p.value.grad = nil }
            let (text, image) = pooled()
            ((text * probe).sum() + (image * probe).sum()).backward()
            var grads: [String: [Float]] = [:]
            for (name, p) in model.namedParameters() { if let g = p.value.grad { grads[name] = g.toArray() } }
            return (text.toArray() + image.toArray(), grads)
        }
        let full = gradients { (model.text_model(ids, attentionMask: mask).pooled, model.vision_model(pixels).pooled) }
        let fast = gradients { (model.text_model.pooled(ids, attentionMask: mask), model.vision_model.pooled(pixels)) }
        XCTAssertEqual(full.values.count, fast.values.count)
        for (a, b) in zip(full.values, fast.values) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        XCTAssertEqual(Set(full.grads.keys), Set(fast.grads.keys))
        XCTAssertTrue(full.grads.keys.contains("text_model.encoder.layers.1.mlp.fc1.weight"))
        for (name, g) in full.grads {
            for (a, b) in zip(g, fast.grads[name]!) { XCTAssertEqual(a, b, accuracy: 1e-4, name) }
        }
    }

    func testParameterNamesAreTheTransformersNames() throws {
        let names = Set(try CLIPModel(tinyCLIPConfig()).namedParameters().map(\.0))
        for expected in [
            "logit_scale", "visual_projection.weight", "text_projection.weight",
            "vision_model.embeddings.class_embedding", "vision_model.embeddings.patch_embedding.weight",
            "vision_model.embeddings.position_embedding.weight", "vision_model.pre_layrnorm.weight",
            "vision_model.encoder.layers.1.self_attn.out_proj.bias", "vision_model.encoder.layers.0.mlp.fc2.weight",
            "vision_model.post_layernorm.bias", "text_model.embeddings.token_embedding.weight",
            "text_model.embeddings.position_embedding.weight", "text_model.encoder.layers.1.layer_norm2.weight",
            "text_model.final_layer_norm.weight",
        ] {
            XCTAssertTrue(names.contains(expected), "missing \(expected)")
        }
        XCTAssertFalse(names.contains("vision_model.embeddings.patch_embedding.bias"))
        XCTAssertEqual(names.count, 3 + 3 + 2 + 2 + 2 * 16 + 2 + 2 * 16 + 2)
    }

    func testContrastiveTrainingStepLowersTheLoss() throws {
        GlobalRandom.seed(7)
        let model = try CLIPModel(tinyCLIPConfig())
        var rng = RandomGenerator(seed: 1)
        let pixels = Tensor.randn([4, 3, 16, 16], rng: &rng)
        let ids = Tensor(ints: [1, 5, 9, 49, 0, 1, 7, 3, 49, 0, 1, 2, 2, 2, 49, 1, 8, 49, 0, 0], shape: [4, 5])
        let optimizer = AdamW(model.trainableParameters(), lr: 1e-2, weightDecay: 0)
        var losses: [Float] = []
        for _ in 0..<5 {
            model.zeroGrad()
            let loss = contrastiveLoss(logitsPerText: model(pixels: pixels, ids: ids).logitsPerText)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        }
        XCTAssertLessThan(losses.last!, losses.first! * 0.8, "losses \(losses)")
        XCTAssertNotNil(model.logit_scale.grad)
    }

    func testLogitScaleIsClampedAt100() throws {
        let model = try CLIPModel(tinyCLIPConfig())
        model.logit_scale.value = Tensor.scalar(5.3)
        model.clampLogitScale()
        XCTAssertEqual(model.logit_scale.value.item(), log(100), accuracy: 1e-6)
        model.logit_scale.value = Tensor.scalar(2)
        model.clampLogitScale()
        XCTAssertEqual(model.logit_scale.value.item(), 2)
    }

    func testPoolingAtEndOfText() throws {
        var c = tinyCLIPConfig().text
        let ids = Tensor(ints: [3, 49, 7, 49, 5, 6, 7, 8], shape: [2, 4])
        XCTAssertEqual(try CLIPTextTransformer(c).endOfTextPositions(ids), [1, 0])  // first eos; none → 0
        c.eosTokenId = 2
        XCTAssertEqual(try CLIPTextTransformer(c).endOfTextPositions(ids), [1, 3])  // legacy: argmax of ids
    }
}
