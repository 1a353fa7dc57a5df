import Foundation
import VLImaging
import VLModels
import VLTensor
import VLTokenizers

/// Scores trained models on a split of the world.
public enum WorldEvaluation {
    /// The request that makes a model describe an image (stage 1 learns it).
    public static let captionRequest = "describe the image ."

    /// Greedy answers to every question of `samples`, compared with the truth by exact match.
    public static func answers(
        _ pipeline: GenerationPipeline, samples: [WorldSample], maxTokens: Int = 4,
        progress: () -> Void = {}
    ) throws -> [VQAOutcome] {
        var outcomes: [VQAOutcome] = []
        for s in samples {
            defer { progress() }
            let image = s.scene.render()
            for qa in s.questions {
                let r = try pipeline.generate(
                    prompt: qa.question, images: [image], sampling: SamplingParameters(), maxTokens: maxTokens)
                outcomes.append(
                    VQAOutcome(
                        questionType: qa.type.rawValue, prediction: r.text.trimmingCharacters(in: .whitespaces),
                        truth: qa.answer))
            }
        }
        return outcomes
    }

    /// Greedy captions of `samples`' images with BLEU-4 and CIDEr-D against the true captions.
    public static func captions(
        _ pipeline: GenerationPipeline, samples: [WorldSample],
        progress: () -> Void = {}
    ) throws -> (captions: [String], bleu4: Double, cider: Double) {
        let generated = try samples.map { s -> String in
            defer { progress() }
            return try pipeline.generate(
                prompt: captionRequest, images: [s.scene.render()], sampling: SamplingParameters(), maxTokens: 30
            )
            .text.trimmingCharacters(in: .whitespaces)
        }
        let candidates = generated.map { $0.split(separator: " ").map(String.init) }
        let references = samples.map { [$0.caption.split(separator: " ").map(String.init)] }
        return (
            generated, bleu4(candidates: candidates, references: references),
            cider(candidates: candidates, references: references)
        )
    }

    /// Every "a <size> <colour> <shape>" phrase: the zero-shot label set.
    public static var objectLabels: [String] {
        ShapeSize.allCases.flatMap { size in
            ShapeColor.allCases.flatMap { color in
                ShapeKind.allCases.map { "a \(size.rawValue) \(color.rawValue) \($0.rawValue)" }
            }
        }
    }

    /// Zero-shot classification of single-object scenes among `objectLabels`; returns accuracy and chance.
    public static func zeroShot(
        _ clip: CLIPModel, tokenizer: CLIPTokenizer, data: WorldData
    ) -> (accuracy: Double, chance: Double, count: Int) {
        let single = data.samples.indices.filter { data.samples[$0].scene.objects.count == 1 }
        guard !single.isEmpty else { return (0, 0, 0) }
        let labels = objectLabels
        let scores = similarities(clip, tokenizer: tokenizer, pixels: data.pixels.indexSelect(0, single), texts: labels)
        let truth = single.map { labels.firstIndex(of: data.samples[$0].caption)! }
        return (zeroShotAccuracy(scores: scores, labels: truth), 1 / Double(labels.count), single.count)
    }

    /// Image↔caption retrieval over `data`: recall at 1, 5 and 10 in both directions.
    public static func retrieval(_ clip: CLIPModel, tokenizer: CLIPTokenizer, data: WorldData) -> RetrievalRecall {
        let scores = similarities(clip, tokenizer: tokenizer, pixels: data.pixels, texts: data.captions)
        return RetrievalRecall(similarity: scores, imageOfText: Array(data.samples.indices))
    }

    /// Cosine similarities [images][texts].
    static func similarities(_ clip: CLIPModel, tokenizer: CLIPTokenizer, pixels: Tensor, texts: [String]) -> [[Float]]
    {
        noGrad {
            let encoded = tokenizer(texts, padTo: clip.config.text.maxPositionEmbeddings)
            let l = clip.config.text.maxPositionEmbeddings
            let ids = Tensor(ints: encoded.ids.flatMap { $0 }, shape: [texts.count, l])
            let mask = Tensor(ints: encoded.attentionMask.flatMap { $0 }, shape: [texts.count, l])
            let text = clip.textFeatures(ids, attentionMask: mask).l2Normalized()
            let image = clip.imageFeatures(pixels).l2Normalized()
            let s = matmul(image, text.mT).toArray()
            return (0..<pixels.shape[0]).map { Array(s[($0 * texts.count)..<(($0 + 1) * texts.count)]) }
        }
    }
}
