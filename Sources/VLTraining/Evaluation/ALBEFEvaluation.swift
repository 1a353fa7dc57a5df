import Foundation
import VLModels
import VLTensor
import VLTokenizers

/// What an ALBEF scores on a split of the world, each next to its chance level.
public struct ALBEFScores {
    /// Retrieval by ITC cosine similarity alone.
    public let itc: RetrievalRecall
    /// Retrieval with each query's top `rerankTop` ITC candidates re-scored by the ITM head (ALBEF's evaluation).
    public let itmImageToText: [Int: Double], itmTextToImage: [Int: Double]
    public let rerankTop: Int
    /// Scenes in the retrieval set (each with a caption no other has): chance of R@K is K / this.
    public let retrievalCount: Int
    /// Zero-shot classification of single-object scenes among `WorldEvaluation.objectLabels` by ITC, and by ITM re-ranking.
    public let zeroShotITC: Double, zeroShotITM: Double, zeroShotChance: Double, zeroShotCount: Int

    public var summary: String {
        func pct(_ d: [Int: Double]) -> String {
            [1, 5, 10].map { String(format: "%.1f", 100 * (d[$0] ?? 0)) }.joined(separator: "/")
        }
        let chance = [1, 5, 10].map { String(format: "%.1f", 100 * Double($0) / Double(max(retrievalCount, 1))) }
            .joined(separator: "/")
        return "retrieval over \(retrievalCount) scenes, R@1/5/10 % (chance \(chance)): "
            + "ITC image→text \(pct(itc.imageToText)), text→image \(pct(itc.textToImage)); "
            + "ITM re-ranking top \(rerankTop) image→text \(pct(itmImageToText)), text→image \(pct(itmTextToImage)); "
            + String(
                format: "zero-shot over %d scenes: ITC %.1f%%, ITM %.1f%% (chance %.1f%%)",
                zeroShotCount, 100 * zeroShotITC, 100 * zeroShotITM, 100 * zeroShotChance)
    }
}

/// ALBEF's retrieval evaluation (its `Retrieval.py`): ITC similarities rank everything, the ITM
/// head's match logit re-scores each query's top k; zero-shot classification the same way.
public enum ALBEFEvaluation {
    /// Image and text embeddings of a model on `pixels` and `texts`, and their ITC similarities [images][texts].
    struct Encoded {
        let image: Tensor, text: Tensor, mask: Tensor
        let similarity: [[Float]]
    }

    static func encode(_ albef: ALBEF, tokenizer: WordPieceTokenizer, pixels: Tensor, texts: [String]) -> Encoded {
        noGrad {
            let (ids, mask) = ALBEFRecipe.encode(texts, tokenizer: tokenizer)
            let length = ids[0].count
            let maskTensor = Tensor(ints: mask.flatMap { $0 }, shape: [texts.count, length])
            let text = albef.textEmbeds(
                ids: Tensor(ints: ids.flatMap { $0 }, shape: [texts.count, length]), attentionMask: maskTensor)
            let image = albef.imageEmbeds(pixels)
            let s = matmul(albef.imageFeature(image), albef.textFeature(text).mT).toArray()
            return Encoded(
                image: image, text: text, mask: maskTensor,
                similarity: (0..<pixels.shape[0]).map { Array(s[($0 * texts.count)..<(($0 + 1) * texts.count)]) })
        }
    }

    /// ITM match logits of the pairs (images[i], texts[i]).
    static func matchScores(_ albef: ALBEF, _ e: Encoded, images: [Int], texts: [Int]) -> [Float] {
        noGrad {
            albef.matchingLogits(
                textEmbeds: e.text.indexSelect(0, texts), attentionMask: e.mask.indexSelect(0, texts),
                image: e.image.indexSelect(0, images)
            ).select(1, 1).toArray()
        }
    }

    /// `scores` with each row's top `k` replaced by `rescore(row, columns)` and the rest at −∞.
    static func rerank(_ scores: [[Float]], top k: Int, rescore: (Int, [Int]) -> [Float]) -> [[Float]] {
        scores.indices.map { row in
            let top = scores[row].indices.sorted { scores[row][$0] > scores[row][$1] }.prefix(k).map { $0 }
            var out = [Float](repeating: -.infinity, count: scores[row].count)
            for (column, s) in zip(top, rescore(row, top)) { out[column] = s }
            return out
        }
    }

    static func transposed(_ m: [[Float]]) -> [[Float]] { (0..<(m.first?.count ?? 0)).map { c in m.map { $0[c] } } }

    /// Retrieval on `data` (whose captions should be distinct) and zero-shot on `zeroShot`'s single-object scenes.
    public static func scores(
        _ albef: ALBEF, tokenizer: WordPieceTokenizer, retrieval data: WorldData, zeroShot: WorldData,
        rerankTop k: Int = 16
    ) -> ALBEFScores {
        let e = encode(albef, tokenizer: tokenizer, pixels: data.pixels, texts: data.captions)
        let truth = Array(data.samples.indices)
        let i2t = rerank(e.similarity, top: k) {
            matchScores(albef, e, images: [Int](repeating: $0, count: $1.count), texts: $1)
        }
        let t2i = rerank(transposed(e.similarity), top: k) {
            matchScores(albef, e, images: $1, texts: [Int](repeating: $0, count: $1.count))
        }
        let z = zeroShotAccuracies(albef, tokenizer: tokenizer, data: zeroShot, rerankTop: k)
        return ALBEFScores(
            itc: RetrievalRecall(similarity: e.similarity, imageOfText: truth),
            itmImageToText: RetrievalRecall(similarity: i2t, imageOfText: truth).imageToText,
            itmTextToImage: RetrievalRecall(similarity: transposed(t2i), imageOfText: truth).textToImage, rerankTop: k,
            retrievalCount: truth.count, zeroShotITC: z.itc, zeroShotITM: z.itm,
            zeroShotChance: 1 / Double(WorldEvaluation.objectLabels.count), zeroShotCount: z.count)
    }

    /// Zero-shot classification of the single-object scenes among every object label, by ITC and by ITM re-ranking.
    static func zeroShotAccuracies(
        _ albef: ALBEF, tokenizer: WordPieceTokenizer, data: WorldData, rerankTop k: Int
    ) -> (itc: Double, itm: Double, count: Int) {
        let single = data.samples.indices.filter { data.samples[$0].scene.objects.count == 1 }
        guard !single.isEmpty else { return (0, 0, 0) }
        let labels = WorldEvaluation.objectLabels
        let z = encode(albef, tokenizer: tokenizer, pixels: data.pixels.indexSelect(0, single), texts: labels)
        let classes = single.map { labels.firstIndex(of: data.samples[$0].caption)! }
        let itm = rerank(z.similarity, top: k) {
            matchScores(albef, z, images: [Int](repeating: $0, count: $1.count), texts: $1)
        }
        return (
            zeroShotAccuracy(scores: z.similarity, labels: classes), zeroShotAccuracy(scores: itm, labels: classes),
            single.count
        )
    }
}
