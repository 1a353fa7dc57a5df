import Foundation
import VLImaging

extension DemoResult {
    /// The metrics as (name, measured, chance) rows, as the table and the report show them.
    public var metricRows: [(String, String, String)] {
        func pct(_ x: Double) -> String { String(format: "%5.1f%%", 100 * x) }
        var rows: [(String, String, String)] = [
            ("CLIP zero-shot (48 object classes)", pct(zeroShotAccuracy), pct(zeroShotChance)),
            (
                "CLIP text→image retrieval R@1 / R@5 / R@10",
                "\(pct(retrievalR1)) / \(pct(retrievalR5)) / \(pct(retrievalR10))", ""
            ),
            ("LLaVA VQA, all questions (\(vqa.overall.count))", pct(vqa.overall.accuracy), pct(vqa.typePriorBaseline)),
        ]
        for (type, a) in vqa.byType.sorted(by: { $0.key < $1.key }) {
            rows.append(("  \(type) (\(a.count))", pct(a.accuracy), pct(a.majorityBaseline)))
        }
        rows.append(
            (
                "LLaVA VQA, held-out colour–shape pairs (\(compositionalVQA.overall.count))",
                pct(compositionalVQA.overall.accuracy),
                pct(compositionalVQA.typePriorBaseline)
            ))
        rows.append(("LLaVA captions BLEU-4 / CIDEr-D", String(format: "%.3f / %.3f", bleu4, cider), ""))
        return rows
    }

    /// An HTML page: the metrics, the loss curves, and held-out scenes with the questions, the
    /// model's answers and the truth.
    public func report(examples count: Int = 24) throws -> HTMLReport {
        var page = HTMLReport(title: "VLKit demo on the built-in world")
        page.addParagraph(
            String(
                format: "CLIP and a small LLaMA pre-trained from scratch, then aligned LLaVA-style; %.0f s in all. "
                    + "Chance is the accuracy of always giving the most common answer (per question type).", seconds))
        page.addTable(
            "Metrics on held-out scenes", columns: ["metric", "measured", "chance"],
            rows: metricRows.map { [$0.0, $0.1, $0.2] })
        let series = curves.sorted { $0.key < $1.key }.map { name, losses in
            (name: name, points: losses.enumerated().map { (Double($0.offset + 1), Double($0.element)) })
        }
        page.addPlot(
            svg: svgLinePlot(series: series, title: "Training loss", xLabel: "step", yLabel: "loss", yScale: .log))
        let shown = answered.prefix(count).map {
            ReportExample(
                image: $0.sample.scene.render(), question: $0.question.question, answer: $0.answer,
                truth: $0.question.answer,
                isCorrect: normalizedAnswer($0.answer) == normalizedAnswer($0.question.answer))
        }
        try page.addExamples("Test scenes: the model's answers", shown)
        return page
    }
}
