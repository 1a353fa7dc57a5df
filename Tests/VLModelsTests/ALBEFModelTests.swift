import Foundation
import XCTest
import VLIO
import VLNN
import VLTensor
@testable import VLModels
import VLTestSupport

/// The ALBEF model on a tiny configuration: names, shapes, where the image enters, a pretraining
/// step with momentum distillation, gradients everywhere, the momentum copy.
final class ALBEFModelTests: XCTestCase {
    static func tinyConfig() -> ALBEFConfig {
        var c = ALBEFConfig()
        c.vision.imageSize = 16
        c.vision.patchSize = 4
        c.vision.hiddenSize = 24
        c.vision.numHiddenLayers = 2
        c.vision.numAttentionHeads = 4
        c.bert.vocabSize = 40
        c.bert.hiddenSize = 32
        c.bert.numHiddenLayers = 4
        c.bert.numAttentionHeads = 4
        c.bert.intermediateSize = 48
        c.bert.maxPositionEmbeddings = 16
        c.fusionLayer = 2
        c.embedDim = 16
        return c
    }

    func batch() -> (pixels: Tensor, ids: Tensor, mask: Tensor) {
        var rng = RandomGenerator(seed: 11)
        let pixels = Tensor.randn([2, 3, 16, 16], rng: &rng)
        // [CLS]=1 … [SEP]=2, [PAD]=0; the second text is padded.
        let ids = Tensor(ints: [1, 5, 9, 12, 7, 30, 2, 1, 8, 21, 33, 2, 0, 0], shape: [2, 7])
        let mask = Tensor([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0], shape: [2, 7])
        return (pixels, ids, mask)
    }

    func testNamesAndShapes() throws {
        GlobalRandom.seed(1)
        let model = try ALBEF(Self.tinyConfig())
        let shapes = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.0, $0.1.shape) })
        XCTAssertEqual(shapes["visual_encoder.blocks.1.attn.qkv.weight"], [72, 24])
        XCTAssertEqual(shapes["visual_encoder.pos_embed"], [1, 17, 24])
        XCTAssertEqual(shapes["visual_encoder.patch_embed.proj.weight"], [24, 3, 4, 4])
        XCTAssertEqual(shapes["text_encoder.bert.encoder.layer.2.crossattention.self.key.weight"], [32, 24])
        XCTAssertNil(
            shapes["text_encoder.bert.encoder.layer.1.crossattention.self.key.weight"],
            "text layers have no cross-attention")
        XCTAssertEqual(shapes["text_encoder.cls.predictions.transform.dense.weight"], [32, 32])
        XCTAssertEqual(shapes["text_encoder.cls.predictions.bias"], [40])
        XCTAssertNil(shapes["text_encoder.cls.predictions.decoder.weight"], "the decoder is the tied word embedding")
        XCTAssertEqual(shapes["vision_proj.weight"], [16, 24])
        XCTAssertEqual(shapes["text_proj.weight"], [16, 32])
        XCTAssertEqual(shapes["itm_head.weight"], [2, 32])
        XCTAssertEqual(shapes["temp"], [])

        let (pixels, ids, mask) = batch()
        let image = model.imageEmbeds(pixels), text = model.textEmbeds(ids: ids, attentionMask: mask)
        XCTAssertEqual(image.shape, [2, 17, 24])
        XCTAssertEqual(text.shape, [2, 7, 32])
        XCTAssertEqual(model.imageFeature(image).shape, [2, 16])
        XCTAssertEqual(model.textFeature(text).norm(axes: [1]).toArray().map { ($0 * 1e4).rounded() }, [1e4, 1e4])
        XCTAssertEqual(model.matchingLogits(textEmbeds: text, attentionMask: mask, image: image).shape, [2, 2])
        XCTAssertEqual(model.maskedLMLogits(ids: ids, attentionMask: mask, image: image).shape, [2, 7, 40])
    }

    func testOnlyTheFusionLayersSeeTheImage() throws {
        GlobalRandom.seed(2)
        let model = try ALBEF(Self.tinyConfig())
        model.eval()
        let (pixels, ids, mask) = batch()
        let imageA = model.imageEmbeds(pixels), imageB = model.imageEmbeds(pixels.indexSelect(0, [1, 0]))
        let text = model.textEmbeds(ids: ids, attentionMask: mask)
        let itmA = model.matchingLogits(textEmbeds: text, attentionMask: mask, image: imageA)
        let itmB = model.matchingLogits(textEmbeds: text, attentionMask: mask, image: imageB)
        XCTAssertGreaterThan((itmA - itmB).abs().max().item(), 1e-4, "the ITM logit must depend on the image")
        // The multimodal pass is the text layers (image-free) followed by the fusion layers.
        let bert = model.text_encoder.bert
        assertClose(
            bert.multimodal(ids, attentionMask: mask, image: imageA),
            bert.fusion(text, attentionMask: mask, image: imageA),
            tol: 1e-6, "multi_modal = fusion(text)")
        let mlmA = model.maskedLMLogits(ids: ids, attentionMask: mask, image: imageA)
        let mlmB = model.maskedLMLogits(ids: ids, attentionMask: mask, image: imageB)
        XCTAssertGreaterThan((mlmA - mlmB).abs().max().item(), 1e-4, "MLM must depend on the image")
    }

    func testPretrainingStepReachesEveryParameterAndLowersTheLoss() throws {
        GlobalRandom.seed(3)
        let model = try ALBEF(Self.tinyConfig())
        model.train()
        var rng = RandomGenerator(seed: 4)
        let pretraining = try ALBEFPretraining(
            model: model, queueSize: 4, maskTokenId: 3, unmaskable: [0, 1], rng: &rng)
        pretraining.mlmProbability = 0.5
        let (pixels, ids, mask) = batch()

        var stepRng = RandomGenerator(seed: 5)
        let first = pretraining.losses(pixels: pixels, ids: ids, attentionMask: mask, alpha: 0.4, rng: &stepRng)
        for (name, loss) in [("ITC", first.itc), ("ITM", first.itm), ("MLM", first.mlm)] {
            XCTAssertTrue(loss.item().isFinite && loss.item() > 0, "\(name) loss \(loss.item())")
        }
        first.total.backward()
        for (name, p) in model.namedParameters() {
            guard let g = p.grad else { XCTFail("no gradient at \(name)"); continue }
            XCTAssertGreaterThan(g.abs().max().item(), 0, "zero gradient at \(name)")
        }
        XCTAssertTrue(
            pretraining.momentumModel.parameters().allSatisfy { !$0.isTrainable && $0.grad == nil },
            "the teacher is frozen")

        let optimizer = AdamW(model.trainableParameters(), lr: 1e-3, weightDecay: 0)
        optimizer.step()
        var totals: [Float] = [first.total.item()]
        for _ in 0..<11 {
            model.zeroGrad()
            var rng = RandomGenerator(seed: 5)  // the same masks and negatives every step
            let loss = pretraining.losses(pixels: pixels, ids: ids, attentionMask: mask, alpha: 0.4, rng: &rng).total
            totals.append(loss.item())
            loss.backward()
            optimizer.step()
        }
        // The queues and the teacher move every step, so compare averages, after the first step too.
        XCTAssertLessThan(totals.suffix(3).reduce(0, +), totals[1...3].reduce(0, +) * 0.9, "losses \(totals)")
        XCTAssertLessThan(totals.last!, totals.first! * 0.6, "losses \(totals)")
    }

    func testMomentumCopyIsIndependentAndEMAFollows() throws {
        GlobalRandom.seed(6)
        let model = try ALBEF(Self.tinyConfig())
        let teacher = try model.momentumCopy()
        let (pixels, _, _) = batch()
        assertClose(teacher.imageEmbeds(pixels), model.imageEmbeds(pixels), tol: 0, "copy gives the same embeddings")
        let before = teacher.vision_proj.weight.value.toArray()
        model.vision_proj.weight.value = model.vision_proj.weight.value + 1
        XCTAssertEqual(teacher.vision_proj.weight.value.toArray(), before, "the copy shares no storage")
        momentumUpdate(teacher, from: model, momentum: 0.5)
        let after = teacher.vision_proj.weight.value.toArray()
        for (a, b) in zip(after, before) { XCTAssertEqual(a, b + 0.5, accuracy: 1e-5) }
    }

    func testCheckpointLoadingSkipsMomentumQueuesAndTiedDecoder() throws {
        GlobalRandom.seed(7)
        let source = try ALBEF(Self.tinyConfig()), target = try ALBEF(Self.tinyConfig())
        var state = source.stateDict()
        state["visual_encoder_m.norm.weight"] = Tensor.ones([24])
        state["text_queue"] = Tensor.zeros([16, 4])
        state["queue_ptr"] = Tensor.zeros([1])
        state["text_encoder.cls.predictions.decoder.weight"] =
            source.text_encoder.bert.embeddings.word_embeddings.weight.value
        try target.load(checkpoint: state)
        let (pixels, ids, mask) = batch()
        assertClose(
            target.maskedLMLogits(ids: ids, attentionMask: mask, image: target.imageEmbeds(pixels)),
            source.maskedLMLogits(ids: ids, attentionMask: mask, image: source.imageEmbeds(pixels)), tol: 0, "loaded")
        state["itm_head.weight"] = nil
        XCTAssertThrowsError(try target.load(checkpoint: state)) { XCTAssertTrue("\($0)".contains("itm_head.weight")) }
    }

    /// Against transformers' BertLayer (text and cross-attention fusion layers) and MLM head with a
    /// timm-style ViT (tools/fixtures/make_albef_fixtures.py), loaded from ALBEF-named weights.
    func testParityWithTransformersBertLayers() throws {
        var c = Self.tinyConfig()
        c.vision.hiddenSize = 32
        let model = try Init.skipping { try ALBEF(c) }
        let dir = fixturesRoot.appendingPathComponent("albef/tiny")
        try model.load(checkpoint: loadSafetensors(path: dir.appendingPathComponent("model.safetensors").path))
        model.eval()
        let ref = try loadSafetensors(path: dir.appendingPathComponent("reference.safetensors").path)
        let (ids, mask) = (ref["input_ids"]!, ref["attention_mask"]!)
        let image = model.imageEmbeds(ref["pixel_values"]!), text = model.textEmbeds(ids: ids, attentionMask: mask)
        assertClose(image, ref["image_embeds"]!, "image embeds")
        assertClose(text, ref["text_embeds"]!, "text embeds")
        assertClose(model.imageFeature(image), ref["image_feat"]!, "image feat")
        assertClose(model.textFeature(text), ref["text_feat"]!, "text feat")
        assertClose(model.text_encoder.bert.fusion(text, attentionMask: mask, image: image), ref["fused"]!, "fusion")
        assertClose(
            model.matchingLogits(textEmbeds: text, attentionMask: mask, image: image), ref["itm_logits"]!, "ITM logits")
        assertClose(model.maskedLMLogits(ids: ids, attentionMask: mask, image: image), ref["mlm_logits"]!, "MLM logits")
    }
}
