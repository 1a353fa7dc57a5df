import Foundation
import VLFiles
import VLImaging
import VLIO
import VLModels
import VLTensor
import VLTokenizers

/// Scores a model directory on a dataset folder in the standard formats (as `vlkit data synth`
/// writes them): VQA on `questions.jsonl`, captions on `captions.jsonl`, retrieval for CLIP, a
/// BLIP-2 stage-1 Q-Former and ALBEF.
public enum DatasetEvaluation {
    /// Greedy answers to every question, exact match per question type.
    public static func vqa(
        _ pipeline: GenerationPipeline, questions: [VisualQuestion], progress: (Int) -> Void = { _ in }
    ) throws -> VQAAccuracy {
        var cache: [URL: RGBImage] = [:]
        var outcomes: [VQAOutcome] = []
        for (i, q) in questions.enumerated() {
            let image = try cache[q.image] ?? RGBImage(contentsOf: q.image)
            cache[q.image] = image
            let r = try pipeline.generate(
                prompt: q.question, images: [image], sampling: SamplingParameters(), maxTokens: 8)
            outcomes.append(
                VQAOutcome(
                    questionType: q.type ?? "all", prediction: r.text.trimmingCharacters(in: .whitespaces),
                    truth: q.answer))
            progress(i + 1)
        }
        return VQAAccuracy(outcomes)
    }

    /// Greedy captions (asked with `WorldEvaluation.captionRequest`) against the references of each image.
    public static func captions(
        _ pipeline: GenerationPipeline, captions: [ImageCaption], limit: Int = 100,
        progress: (Int) -> Void = { _ in }
    ) throws -> (bleu4: Double, cider: Double, count: Int) {
        let references = Dictionary(grouping: captions, by: \.image)
        let images = Array(Set(captions.map(\.image))).sorted { $0.path < $1.path }.prefix(limit)
        var candidates: [[String]] = [], refs: [[[String]]] = []
        for (i, url) in images.enumerated() {
            let text = try pipeline.generate(
                prompt: WorldEvaluation.captionRequest, images: [RGBImage(contentsOf: url)],
                sampling: SamplingParameters(), maxTokens: 40
            ).text
            candidates.append(words(text))
            refs.append(references[url]!.map { words($0.caption) })
            progress(i + 1)
        }
        return (
            bleu4(candidates: candidates, references: refs), cider(candidates: candidates, references: refs),
            images.count
        )
    }

    /// Image↔text retrieval with a CLIP directory: recall at 1, 5, 10 (a caption belongs to its image).
    public static func retrieval(_ clip: CLIPPipeline, captions: [ImageCaption]) throws -> RetrievalRecall {
        try retrieval(captions) { images, texts in
            noGrad { matmul(clip.imageEmbeddings(images), clip.textEmbeddings(texts).mT).toArray() }
        }
    }

    /// Retrieval by ITC with a BLIP-2 stage-1 Q-Former (`Blip2ForImageTextRetrieval`, best query per pair).
    public static func retrieval(
        _ model: Blip2ForImageTextRetrieval, tokenizer: WordPieceTokenizer, processor: ImageProcessor,
        captions: [ImageCaption]
    ) throws -> RetrievalRecall {
        try retrieval(captions) { images, texts in
            let features = noGrad { encodeInChunks(images, processor) { model.imageFeatures($0) } }
            return Blip2Pretraining.similarities(model, features: features, texts: texts, tokenizer: tokenizer)
        }
    }

    /// Retrieval by ITC cosine similarity with an ALBEF directory (as `ALBEFEvaluation` ranks before re-ranking).
    public static func retrieval(
        _ albef: ALBEF, tokenizer: WordPieceTokenizer, processor: ImageProcessor,
        captions: [ImageCaption]
    ) throws -> RetrievalRecall {
        try retrieval(captions) { images, texts in
            let pixels = noGrad { encodeInChunks(images, processor) { $0 } }
            return ALBEFEvaluation.encode(albef, tokenizer: tokenizer, pixels: pixels, texts: texts).similarity.flatMap
            { $0 }
        }
    }

    /// What scores a retrieval directory (CLIP, a BLIP-2 stage-1 Q-Former, ALBEF) on captions, with
    /// its model loaded; nil when `directory` holds another kind of model.
    /// (A directory without config.json is left to the generative loader, whose error says so.)
    public static func retrievalScorer(directory: URL) throws -> (([ImageCaption]) throws -> RetrievalRecall)? {
        let configURL = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else { return nil }
        let config = try ConfigReader(contentsOf: configURL)
        switch try config.string("model_type", "") {
        case "clip":
            let clip = try CLIPPipeline(directory: directory)
            return { try retrieval(clip, captions: $0) }
        case "albef":
            let albef = try ALBEF.load(directory: directory)
            let (tokenizer, processor) = (
                try WordPieceTokenizer(directory: directory), try ImageProcessor(directory: directory)
            )
            return { try retrieval(albef, tokenizer: tokenizer, processor: processor, captions: $0) }
        case "blip-2"
        where (config.values["architectures"] as? [String])?.contains("Blip2ForImageTextRetrieval") == true:
            let model = try Blip2ForImageTextRetrieval.load(directory)
            let (tokenizer, processor) = (
                try WordPieceTokenizer(directory: directory), try ImageProcessor(directory: directory)
            )
            return { try retrieval(model, tokenizer: tokenizer, processor: processor, captions: $0) }
        default: return nil
        }
    }

    /// Recall over the captions' distinct images (sorted by path) and every caption;
    /// `similarities(images, texts)` gives [image][text] row-major.
    static func retrieval(
        _ captions: [ImageCaption], similarities: ([RGBImage], [String]) throws -> [Float]
    ) throws -> RetrievalRecall {
        let images = Array(Set(captions.map(\.image))).sorted { $0.path < $1.path }
        let row = Dictionary(uniqueKeysWithValues: images.enumerated().map { ($1, $0) })
        let s = try similarities(try images.map { try RGBImage(contentsOf: $0) }, captions.map(\.caption))
        let n = captions.count
        let similarity = (0..<images.count).map { Array(s[($0 * n)..<(($0 + 1) * n)]) }
        return RetrievalRecall(similarity: similarity, imageOfText: captions.map { row[$0.image]! })
    }

    /// `encode` of the images' pixels, a chunk at a time, concatenated along the batch.
    static func encodeInChunks(
        _ images: [RGBImage], _ processor: ImageProcessor, chunk: Int = 64, encode: (Tensor) -> Tensor
    ) -> Tensor {
        cat(
            stride(from: 0, to: images.count, by: chunk).map {
                encode(processor.batch(Array(images[$0..<min($0 + chunk, images.count)]))).contiguous()
            }, dim: 0)
    }

    static func words(_ text: String) -> [String] { text.lowercased().split(separator: " ").map(String.init) }
}
