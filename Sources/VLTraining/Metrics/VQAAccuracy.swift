/// One answered question: its type (colour, shape, count, …), the model's answer and the truth.
public struct VQAOutcome: Equatable {
    public let questionType: String
    public let prediction: String
    public let truth: String

    public init(questionType: String, prediction: String, truth: String) {
        (self.questionType, self.prediction, self.truth) = (questionType, prediction, truth)
    }

    /// Exact match after trimming, lower-casing, collapsing runs of whitespace and dropping a
    /// final full stop ("Red." = "red"; "two" ≠ "2").
    public var isCorrect: Bool { normalizedAnswer(prediction) == normalizedAnswer(truth) }
}

/// The answer as exact-match compares it.
public func normalizedAnswer(_ answer: String) -> String {
    var words = answer.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
    if words.hasSuffix(".") { words.removeLast() }
    return words
}

/// Exact-match accuracy for one group of questions, with two chance levels read off the true answers:
/// `majorityBaseline` — the accuracy of always giving the group's most common answer — and
/// `uniformChance` — 1 / the number of distinct answers, the expected accuracy of guessing uniformly
/// among them.
public struct AccuracyWithChance: Equatable {
    public let count: Int
    public let accuracy: Double
    public let majorityBaseline: Double
    public let uniformChance: Double

    init(_ outcomes: [VQAOutcome]) {
        count = outcomes.count
        let answerCounts = Dictionary(outcomes.map { (normalizedAnswer($0.truth), 1) }, uniquingKeysWith: +)
        let n = Double(max(outcomes.count, 1))
        accuracy = Double(outcomes.filter(\.isCorrect).count) / n
        majorityBaseline = Double(answerCounts.values.max() ?? 0) / n
        uniformChance = answerCounts.isEmpty ? 0 : 1 / Double(answerCounts.count)
    }
}

/// VQA exact-match accuracy overall and per question type.
public struct VQAAccuracy: Equatable {
    public let overall: AccuracyWithChance
    public let byType: [String: AccuracyWithChance]

    public init(_ outcomes: [VQAOutcome]) {
        overall = AccuracyWithChance(outcomes)
        byType = Dictionary(grouping: outcomes, by: \.questionType).mapValues(AccuracyWithChance.init)
    }
}

extension VQAAccuracy {
    /// The accuracy of a blind model that knows each question's type and always gives that type's
    /// most common answer: what the language prior alone reaches.
    public var typePriorBaseline: Double {
        let total = byType.values.reduce(0) { $0 + $1.count }
        guard total > 0 else { return 0 }
        return byType.values.reduce(0) { $0 + Double($1.count) * $1.majorityBaseline } / Double(total)
    }
}
