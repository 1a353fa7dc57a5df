/// Top-K accuracy of zero-shot classification: `scores[i][c]` is image i's score for class c
/// (e.g. CLIP's logits against "a photo of a {label}." prompts), `labels[i]` its true class. A true
/// class tied with a wrong one counts as ranked below it.
public func zeroShotAccuracy<Score: Comparable>(scores: [[Score]], labels: [Int], topK: Int = 1) -> Double {
    precondition(scores.count == labels.count, "\(scores.count) score rows for \(labels.count) labels")
    guard !labels.isEmpty else { return 0 }
    let hits = zip(scores, labels).filter { row, label in
        precondition(row.indices.contains(label), "label \(label) outside \(row.count) classes")
        return row.indices.filter { $0 != label && row[$0] >= row[label] }.count < topK
    }
    return Double(hits.count) / Double(labels.count)
}
