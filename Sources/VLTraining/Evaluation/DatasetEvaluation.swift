import Foundation
import VLImaging
import VLModels
import VLTensor

/// Scores a model directory on a dataset folder in the standard formats (as `vlkit data synth`
/// writes them): VQA on `questions.jsonl`, captions on `captions.jsonl`, retrieval for CLIP.
public enum DatasetEvaluation {
    /// Greedy answers to every question, exact match per question type.
    public static func vqa(_ pipeline: GenerationPipeline, questions: [VisualQuestion], progress: (Int) -> Void = { _ in }) throws -> VQAAccuracy {
        var cache: [URL: RGBImage] = [:]
        var outcomes: [VQAOutcome] = []
        for (i, q) in questions.enumerated() {
            let image = try cache[q.image] ?? RGBImage(contentsOf: q.image)
            cache[q.image] = image
            let r = try pipeline.generate(prompt: q.question, images: [image], sampling: SamplingParameters(), maxTokens: 8)
            outcomes.append(VQAOutcome(questionType: q.type ?? "all", prediction: r.text.trimmingCharacters(in: .whitespaces), truth: q.answer))
            progress(i + 1)
        }
        return VQAAccuracy(outcomes)
    }

    /// Greedy captions (asked with `WorldEvaluation.captionRequest`) against the references of each image.
    public static func captions(_ pipeline: GenerationPipeline, captions: [ImageCaption], limit: Int = 100,
                                progress: (Int) -> Void = { _ in }) throws -> (bleu4: Double, cider: Double, count: Int) {
        let references = Dictionary(grouping: captions, by: \.image)
        let images = Array(Set(captions.map(\.image))).sorted { $0.path < $1.path }.prefix(limit)
        var candidates: [[String]] = [], refs: [[[String]]] = []
        for (i, url) in images.enumerated() {
            let text = try pipeline.generate(prompt: WorldEvaluation.captionRequest, images: [RGBImage(contentsOf: url)],
                                             sampling: SamplingParameters(), maxTokens: 40).text
            candidates.append(words(text))
            refs.append(references[url]!.map { words($0.caption) })
            progress(i + 1)
        }
        return (bleu4(candidates: candidates, references: refs), cider(candidates: candidates, references: refs), images.count)
    }

    /// Image↔text retrieval with a CLIP directory: recall at 1, 5, 10 (a caption belongs to its image).
    public static func retrieval(_ clip: CLIPPipeline, captions: [ImageCaption]) throws -> RetrievalRecall {
        let images = Array(Set(captions.map(\.image))).sorted { $0.path < $1.path }
        let row = Dictionary(uniqueKeysWithValues: images.enumerated().map { ($1, $0) })
        let imageEmbeds = clip.imageEmbeddings(try images.map { try RGBImage(contentsOf: $0) })
        let textEmbeds = clip.textEmbeddings(captions.map(\.caption))
        let s = noGrad { matmul(imageEmbeds, textEmbeds.mT).toArray() }
        let n = captions.count
        let similarity = (0..<images.count).map { Array(s[($0 * n)..<(($0 + 1) * n)]) }
        return RetrievalRecall(similarity: similarity, imageOfText: captions.map { row[$0.image]! })
    }

    static func words(_ text: String) -> [String] { text.lowercased().split(separator: " ").map(String.init) }
}
