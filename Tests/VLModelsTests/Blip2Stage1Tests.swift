import Foundation
import XCTest
import VLIO
import VLNN
import VLTensor
@testable import VLModels
import VLTestSupport

/// BLIP-2's stage-1 heads against transformers' Blip2ForImageTextRetrieval / *WithProjection and
/// against a torch computation of LAVIS's captioning pass (tools/fixtures/make_blip2_stage1_fixtures.py).
final class Blip2Stage1Tests: XCTestCase {
    func retrieval(trainingHeads: Bool = false) throws -> Blip2ForImageTextRetrieval {
        let dir = fixtureDirectory("blip2", "retrieval")
        let model = try Blip2ForImageTextRetrieval.load(dir, trainingHeads: trainingHeads)
        if trainingHeads {
            let head = try loadSafetensors(path: dir.appendingPathComponent("itg_head.safetensors").path)
            try model.cls!.load(
                stateDict: Dictionary(uniqueKeysWithValues: head.map { (String($0.key.dropFirst(4)), $0.value) }))
        }
        return model
    }

    func testMatchingAndContrastiveMatchTransformers() throws {
        let model = try retrieval(), ref = try reference("blip2", "retrieval")
        let (ids, mask) = (ref["input_ids"]!, ref["attention_mask"]!)
        let image = model.imageFeatures(ref["pixel_values"]!)
        assertClose(model.matchingLogits(image: image, ids: ids, attentionMask: mask), ref["itm_logits"]!, "ITM logits")
        let imageEmbeds = model.imageEmbeds(image: image), textEmbeds = model.textEmbeds(ids: ids, attentionMask: mask)
        assertClose(imageEmbeds, ref["itc_image_embeds"]!, "ITC image embeds")
        assertClose(textEmbeds, ref["itc_text_embeds"]!, "ITC text embeds")
        assertClose(
            queryTextSimilarity(imageEmbeds: imageEmbeds, textEmbeds: textEmbeds), ref["itc_logits_per_image"]!,
            "ITC similarity")
    }

    func testProjectionModelsMatchTransformers() throws {
        let text = try Blip2TextModelWithProjection.load(fixtureDirectory("blip2", "text_with_projection"))
        let textRef = try reference("blip2", "text_with_projection")
        assertClose(
            text(ids: textRef["input_ids"]!, attentionMask: textRef["attention_mask"]!), textRef["text_embeds"]!,
            "text_embeds")
        let vision = try Blip2VisionModelWithProjection.load(fixtureDirectory("blip2", "vision_with_projection"))
        let visionRef = try reference("blip2", "vision_with_projection")
        assertClose(vision(pixels: visionRef["pixel_values"]!), visionRef["image_embeds"]!, "image_embeds")
    }

    func testCaptioningMatchesTorchReference() throws {
        let model = try retrieval(trainingHeads: true), ref = try reference("blip2", "retrieval")
        let (ids, mask) = (ref["input_ids"]!, ref["attention_mask"]!)
        let image = model.imageFeatures(ref["pixel_values"]!)
        let logits = model.captionLogits(image: image, ids: ids, attentionMask: mask)
        assertClose(logits, ref["itg_logits"]!, "ITG logits")
        let loss = blip2CaptioningLoss(logits: logits, ids: ids, attentionMask: mask)
        assertClose(loss.reshape([1]), ref["itg_loss"]!, "ITG loss")
    }

    func testCaptioningMaskIsLavisUniLMMask() {
        // 2 queries, 3 text tokens, the last one padding.
        let m = captioningMask(queries: 2, attentionMask: Tensor([1, 1, 0], shape: [1, 3])).toArray()
        let seen = m.map { $0 == 0 ? 1 : 0 }
        XCTAssertEqual(
            seen,
            [
                1, 1, 0, 0, 0,
                1, 1, 0, 0, 0,
                1, 1, 1, 0, 0,
                1, 1, 1, 1, 0,
                1, 1, 1, 1, 0,
            ])
    }

    func testCaptioningIsCausalAndQueriesIgnoreText() throws {
        let model = try retrieval(trainingHeads: true), ref = try reference("blip2", "retrieval")
        let image = model.imageFeatures(ref["pixel_values"]!).narrow(0, start: 0, length: 1)
        let mask = Tensor.ones([1, 5])
        let a = model.captionLogits(
            image: image, ids: Tensor(ints: [1, 7, 8, 9, 10], shape: [1, 5]), attentionMask: mask)
        let b = model.captionLogits(
            image: image, ids: Tensor(ints: [1, 7, 8, 30, 31], shape: [1, 5]), attentionMask: mask)
        assertClose(a.narrow(1, start: 0, length: 3), b.narrow(1, start: 0, length: 3), tol: 1e-6, "prefix logits")
        XCTAssertGreaterThan((a - b).abs().max().item(), 1e-3, "later tokens must change later logits")
        let other = model.imageFeatures(ref["pixel_values"]!).narrow(0, start: 1, length: 1)
        let c = model.captionLogits(
            image: other, ids: Tensor(ints: [1, 7, 8, 9, 10], shape: [1, 5]), attentionMask: mask)
        XCTAssertGreaterThan((a - c).abs().max().item(), 1e-3, "the image must condition the text")
    }

    func testEachStage1LossTrainsTheQFormer() throws {
        let model = try retrieval(trainingHeads: true), ref = try reference("blip2", "retrieval")
        model.train()
        model.vision_model.freeze()
        let image = noGrad { model.imageFeatures(ref["pixel_values"]!) }
        let (ids, mask) = (ref["input_ids"]!, ref["attention_mask"]!)
        var rng = RandomGenerator(seed: 7)
        let losses = model.stage1Losses(image: image, ids: ids, attentionMask: mask, rng: &rng)
        let expectations: [(String, Tensor, [String])] = [
            (
                "ITC", losses.itc,
                [
                    "query_tokens", "qformer.encoder.layer.0.crossattention.attention.key.weight",
                    "qformer.encoder.layer.2.output.dense.weight", "vision_projection.weight",
                    "text_projection.weight", "temp",
                ]
            ),
            (
                "ITM", losses.itm,
                [
                    "query_tokens", "qformer.encoder.layer.0.attention.attention.query.weight",
                    "qformer.encoder.layer.1.output.dense.weight", "itm_head.weight",
                    "embeddings.word_embeddings.weight",
                ]
            ),
            (
                "ITG", losses.itg,
                [
                    "query_tokens", "qformer.encoder.layer.0.crossattention.attention.value.weight",
                    "qformer.encoder.layer.2.output.dense.weight", "cls.predictions.transform.dense.weight",
                    "cls.predictions.bias", "embeddings.word_embeddings.weight",
                ]
            ),
        ]
        let params = Dictionary(uniqueKeysWithValues: model.namedParameters())
        for (what, loss, names) in expectations {
            model.zeroGrad()
            XCTAssertTrue(loss.item().isFinite, "\(what) loss")
            loss.backward()
            for name in names {
                let g = params[name]?.grad
                XCTAssertNotNil(g, "\(what): no gradient at \(name)")
                if let g { XCTAssertGreaterThan(g.abs().max().item(), 0, "\(what): zero gradient at \(name)") }
            }
            XCTAssertNil(
                params["vision_model.embeddings.patch_embedding.weight"]!.grad, "\(what): the frozen ViT got a gradient"
            )
        }
        // ITC never sees the ITM head and ITM never the projections: no stray gradients.
        model.zeroGrad()
        losses.itm.backward()
        XCTAssertNil(params["vision_projection.weight"]!.grad)
    }

    func testStage1TrainingLowersTheLoss() throws {
        let model = try retrieval(trainingHeads: true), ref = try reference("blip2", "retrieval")
        model.train()
        model.vision_model.freeze()
        let image = noGrad { model.imageFeatures(ref["pixel_values"]!) }
        let (ids, mask) = (ref["input_ids"]!, ref["attention_mask"]!)
        let optimizer = AdamW(model.trainableParameters(), lr: 1e-3, weightDecay: 0)
        var rng = RandomGenerator(seed: 8)
        var totals: [Float] = []
        for _ in 0..<6 {
            model.zeroGrad()
            let loss = model.stage1Losses(image: image, ids: ids, attentionMask: mask, rng: &rng).total
            totals.append(loss.item())
            loss.backward()
            optimizer.step()
        }
        XCTAssertLessThan(totals.last!, totals.first! * 0.9, "losses \(totals)")
    }

    func testRetrievalNeedsTheTextFeedForward() throws {
        var c = Blip2Config()
        c.qformer.useQformerTextInput = false
        XCTAssertThrowsError(try Blip2ForImageTextRetrieval(c)) {
            XCTAssertTrue("\($0)".contains("use_qformer_text_input"))
        }
    }
}
