/// Recall@K for image–text retrieval, where several texts may describe one image (as in COCO and
/// Flickr30k, five captions each).
///
/// `similarity[i][t]` scores image i against text t; `imageOfText[t]` is the image text t belongs
/// to. A query's rank is the number of wrong candidates scoring at least as high as its best right
/// one, so ties count against the model (a constant similarity gets 0, not 100%).
public struct RetrievalRecall: Equatable {
    /// Fraction of images with one of their texts among the top K texts, for each requested K.
    public let imageToText: [Int: Double]
    /// Fraction of texts whose image is among the top K images, for each requested K.
    public let textToImage: [Int: Double]

    public init<Score: Comparable>(similarity: [[Score]], imageOfText: [Int], ks: [Int] = [1, 5, 10]) {
        precondition(
            similarity.allSatisfy { $0.count == imageOfText.count },
            "each similarity row needs one score per text (\(imageOfText.count))")
        precondition(
            imageOfText.allSatisfy { similarity.indices.contains($0) },
            "a text belongs to an image that is not in the matrix")
        let imageRanks = similarity.indices.map { image in
            rank(scores: similarity[image], isRight: { imageOfText[$0] == image })
        }
        let textRanks = imageOfText.indices.map { text in
            rank(scores: similarity.map { $0[text] }, isRight: { $0 == imageOfText[text] })
        }
        imageToText = recallAtK(ranks: imageRanks, ks: ks)
        textToImage = recallAtK(ranks: textRanks, ks: ks)
    }
}

/// Zero-based rank of a query's best right candidate; nil when it has none.
private func rank<Score: Comparable>(scores: [Score], isRight: (Int) -> Bool) -> Int? {
    guard let best = scores.indices.filter(isRight).map({ scores[$0] }).max() else { return nil }
    return scores.indices.filter { !isRight($0) && scores[$0] >= best }.count
}

/// For each K, the fraction of queries ranked below K. A query with no right candidate counts as a miss.
private func recallAtK(ranks: [Int?], ks: [Int]) -> [Int: Double] {
    Dictionary(
        uniqueKeysWithValues: ks.map { k in
            (k, ranks.isEmpty ? 0 : Double(ranks.filter { ($0 ?? .max) < k }.count) / Double(ranks.count))
        })
}
