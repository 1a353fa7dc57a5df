import Foundation
import XCTest
@testable import VLTraining

/// Tests/Fixtures/metrics/metrics.json, written by tools/fixtures/make_metric_fixtures.py with pycocoevalcap.
private struct MetricCase: Decodable {
    let name: String
    let candidates: [String]
    let references: [[String]]
    let bleu: [Double]
    let cider: Double

    var candidateTokens: [[String]] { candidates.map(words) }
    var referenceTokens: [[[String]]] { references.map { $0.map(words) } }
}

private func words(_ sentence: String) -> [String] { sentence.split(separator: " ").map(String.init) }

private func loadMetricCases() throws -> [MetricCase] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/metrics/metrics.json")
    struct File: Decodable { let cases: [MetricCase] }
    return try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).cases
}

final class CaptionMetricTests: XCTestCase {
    func testBLEUMatchesPycocoevalcap() throws {
        let cases = try loadMetricCases()
        XCTAssertGreaterThanOrEqual(cases.count, 30)
        for c in cases {
            let scores = bleuScores(candidates: c.candidateTokens, references: c.referenceTokens)
            for n in 0..<4 {
                XCTAssertEqual(
                    scores[n], c.bleu[n], accuracy: 1e-9 * max(1e-6, abs(c.bleu[n])), "\(c.name): BLEU-\(n + 1)")
            }
            XCTAssertEqual(bleu4(candidates: c.candidateTokens, references: c.referenceTokens), scores[3])
        }
    }

    func testCIDErDMatchesPycocoevalcap() throws {
        for c in try loadMetricCases() {
            XCTAssertEqual(
                cider(candidates: c.candidateTokens, references: c.referenceTokens), c.cider, accuracy: 1e-9, c.name)
        }
    }
}

final class RetrievalAndAccuracyTests: XCTestCase {
    func testRecallCountsAnyOfAnImagesTextsAndTiesAgainstTheModel() {
        // Two images, three texts: texts 0 and 1 describe image 0, text 2 describes image 1.
        let similarity: [[Double]] = [
            [0.2, 0.9, 0.5],  // image 0: its text 1 is first
            [0.8, 0.1, 0.3],  // image 1: its text 2 is second
        ]
        let recall = RetrievalRecall(similarity: similarity, imageOfText: [0, 0, 1], ks: [1, 2])
        XCTAssertEqual(recall.imageToText, [1: 0.5, 2: 1.0])
        // Text 0 prefers image 1 (wrong), text 1 image 0 (right), text 2 image 0 (wrong).
        XCTAssertEqual(recall.textToImage, [1: 1.0 / 3, 2: 1.0])
        let constant = RetrievalRecall(similarity: [[1, 1], [1, 1]], imageOfText: [0, 1], ks: [1, 2])
        XCTAssertEqual(constant.imageToText, [1: 0, 2: 1])
    }

    func testVQAAccuracyPerTypeWithChanceLevels() {
        let outcomes = [
            VQAOutcome(questionType: "colour", prediction: "Red.", truth: "red"),
            VQAOutcome(questionType: "colour", prediction: "blue", truth: "red"),
            VQAOutcome(questionType: "colour", prediction: "green", truth: "green"),
            VQAOutcome(questionType: "yes/no", prediction: "yes", truth: "no"),
        ]
        let accuracy = VQAAccuracy(outcomes)
        XCTAssertEqual(accuracy.overall.accuracy, 0.5)
        XCTAssertEqual(accuracy.overall.count, 4)
        let colour = accuracy.byType["colour"]!
        XCTAssertEqual(colour.accuracy, 2.0 / 3)
        XCTAssertEqual(colour.majorityBaseline, 2.0 / 3)
        XCTAssertEqual(colour.uniformChance, 0.5)
        XCTAssertEqual(accuracy.byType["yes/no"]!.accuracy, 0)
        XCTAssertEqual(accuracy.byType["yes/no"]!.majorityBaseline, 1)
        XCTAssertEqual(normalizedAnswer("  Two   Circles. "), "two circles")
    }

    func testZeroShotTopKAccuracy() {
        let scores: [[Float]] = [[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.3, 0.3, 0.4]]
        XCTAssertEqual(zeroShotAccuracy(scores: scores, labels: [1, 1, 0]), 1.0 / 3)
        XCTAssertEqual(zeroShotAccuracy(scores: scores, labels: [1, 1, 0], topK: 2), 2.0 / 3)
        XCTAssertEqual(zeroShotAccuracy(scores: [[Float]](), labels: []), 0)
    }
}
