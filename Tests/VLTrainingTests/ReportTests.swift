import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import VLTraining

private func temporaryFolder() throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-report-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}

private func isWellFormedXML(_ text: String) -> Bool { XMLParser(data: Data(text.utf8)).parse() }

final class ProgressBarTests: XCTestCase {
    /// A bar whose clock moves one second per reading, writing into `output`.
    private func bar(total: Int, interactive: Bool, output: @escaping (String) -> Void) -> ProgressBar {
        var seconds = 0.0
        return ProgressBar(
            total: total, label: "train", samplesPerStep: 8, plainLineEvery: 25, interactive: interactive,
            write: output,
            now: {
                seconds += 1; return Date(timeIntervalSince1970: seconds)
            })
    }

    func testPlainLinesEveryQuarterWhenNotATerminal() {
        var lines: [String] = []
        let progress = bar(total: 20, interactive: false) { lines.append($0) }
        for step in 1...20 { progress.update(step: step, fields: [("loss", "2.31"), ("lr", "3e-4")]) }
        progress.finish()
        XCTAssertEqual(lines.count, 6)  // at 5%, 25%, 50%, 75%, 100%, and the finish
        XCTAssertTrue(lines.allSatisfy { $0.hasSuffix("\n") && !$0.contains("\r") })
        XCTAssertEqual(lines[1], "train 5/20 ██████·················· loss 2.31 · lr 3e-4 · 8.0 samples/s · ETA 15s\n")
        XCTAssertTrue(lines[5].hasPrefix("train 20/20 ████████████████████████ loss 2.31"))
        XCTAssertTrue(lines[5].hasSuffix("took 21s\n"))
    }

    func testRedrawsInPlaceOnATerminal() {
        var output = ""
        let progress = bar(total: 4, interactive: true) { output += $0 }
        for step in 1...4 { progress.update(step: step) }
        progress.finish()
        XCTAssertEqual(output.components(separatedBy: "\r\u{1B}[K").count, 6)
        XCTAssertEqual(output.filter { $0 == "\n" }.count, 1)
        XCTAssertEqual(formatDuration(3725), "1h02m")
    }
}

final class MetricsLogTests: XCTestCase {
    func testOneJSONObjectPerLineInTheGivenOrder() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("metrics.jsonl")
        let log = try MetricsLog(url: url)
        try log.write(["step": 1, "loss": 2.5, "stage": "align \"1\"\n", "done": false])
        try log.write(["step": 2, "loss": .double(.nan)])
        let text = try String(contentsOf: url, encoding: .utf8)
        XCTAssertEqual(
            text,
            "{\"step\": 1, \"loss\": 2.5, \"stage\": \"align \\\"1\\\"\\n\", \"done\": false}\n{\"step\": 2, \"loss\": null}\n"
        )
        for line in text.split(separator: "\n") {
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(line.utf8)))
        }
    }

    func testAppendingDropsAPartialLastLineAndANewLogStartsEmpty() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("metrics.jsonl")
        try Data("{\"step\": 1}\n{\"st".utf8).write(to: url)
        try MetricsLog(url: url, append: true).write(["step": 2])
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "{\"step\": 1}\n{\"step\": 2}\n")
        _ = try MetricsLog(url: url)
        XCTAssertEqual(try Data(contentsOf: url).count, 0)
    }

    func testAMissingFolderIsAClearError() {
        let url = URL(fileURLWithPath: "/nonexistent-\(UUID().uuidString)/metrics.jsonl")
        XCTAssertThrowsError(try MetricsLog(url: url)) {
            XCTAssertTrue("\($0)".hasPrefix(url.path + ": cannot write"), "\($0)")
        }
    }
}

final class SVGPlotTests: XCTestCase {
    func testLinesTicksAndLegend() {
        let svg = svgLinePlot(
            series: [
                (name: "train <loss>", points: [(0, 2.0), (1, 1.5), (2, 1.2), (3, 1.0)]),
                (name: "val", points: [(0, 2.2), (3, 1.4)]),
            ],
            title: "Loss & accuracy", xLabel: "step", yLabel: "loss")
        XCTAssertTrue(isWellFormedXML(svg))
        XCTAssertTrue(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\""))
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 2)
        XCTAssertTrue(svg.contains("#1f77b4") && svg.contains("#ff7f0e"))
        XCTAssertTrue(svg.contains(">train &lt;loss&gt;<") && svg.contains(">Loss &amp; accuracy<"))
        for label in [">1.0<", ">1.5<", ">2.5<", ">0<", ">3<"] { XCTAssertTrue(svg.contains(label), label) }
    }

    func testNonFiniteValuesBreakTheLineAndLonePointsAreDots() {
        let svg = svgLinePlot(
            series: [
                (name: "a", points: [(0, 1), (1, 2), (2, .nan), (3, 3), (4, 4), (5, .infinity), (6, 2)]),
                (name: "single", points: [(2, 2.5)]),
            ],
            title: "t", xLabel: "x", yLabel: "y")
        XCTAssertTrue(isWellFormedXML(svg))
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 2)
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 2)
        XCTAssertFalse(svg.contains("nan") || svg.contains("inf"))
    }

    func testLogScaleTicksArePowersOfTenWithMultiplesOverFewDecadesAndEmptyPlotsSayNoData() {
        let loss = (1...100).map { (Double($0), 5 / Double($0)) } + [(101, 0), (102, -1)]
        let svg = svgLinePlot(
            series: [(name: "loss", points: loss)], title: "t", xLabel: "x", yLabel: "y", yScale: .log)
        XCTAssertTrue(isWellFormedXML(svg))
        for label in [">0.01<", ">0.1<", ">1<", ">10<"] { XCTAssertTrue(svg.contains(label), label) }
        XCTAssertFalse(svg.contains(">0.5<"))
        let narrow = svgLinePlot(
            series: [(name: "loss", points: [(0, 3), (1, 0.3)])], title: "t", xLabel: "x", yLabel: "y", yScale: .log)
        for label in [">0.1<", ">0.2<", ">0.5<", ">1<", ">2<", ">5<", ">10<"] {
            XCTAssertTrue(narrow.contains(label), label)
        }
        let empty = svgLinePlot(series: [(name: "none", points: [(0, .nan)])], title: "t", xLabel: "x", yLabel: "y")
        XCTAssertTrue(isWellFormedXML(empty) && empty.contains(">no data<"))
    }
}

final class HTMLReportTests: XCTestCase {
    static func exampleReport() throws -> HTMLReport {
        var report = HTMLReport(title: "LLaVA stage 1 <projector>")
        report.addParagraph("Trained on 2,000 scenes & evaluated on 200 held-out ones.")
        report.addTable(
            "Results", columns: ["metric", "value"],
            rows: [["BLEU-4", "0.412"], ["CIDEr", "1.380"], ["<b>x</b>", "\"q\""]])
        let curve = (0...200).map { (Double($0), 3 * exp(-Double($0) / 60) + 0.2) }
        report.addPlot(
            svg: svgLinePlot(
                series: [(name: "train", points: curve)], title: "Loss", xLabel: "step", yLabel: "loss", yScale: .log))
        let objects = [
            SceneObject(shape: .circle, color: .red, size: .large, x: 20, y: 24, radius: 10),
            SceneObject(shape: .triangle, color: .blue, size: .small, x: 46, y: 44, radius: 7),
        ]
        let image = Scene(objects: objects, noiseSeed: 3, imageSize: 64).render()
        try report.addExamples(
            "Answers",
            [
                ReportExample(
                    image: image, question: "What colour is the circle?", answer: "red", truth: "red", isCorrect: true),
                ReportExample(
                    image: image, question: "How many shapes? <script>alert(1)</script>", answer: "three", truth: "two",
                    isCorrect: false),
                ReportExample(
                    image: image, question: "Describe the image.", answer: "a red circle",
                    truth: "a large red circle and a small blue triangle", isCorrect: nil),
            ])
        return report
    }

    func testEscapesTextAndEmbedsImagesAndPlots() throws {
        let html = try Self.exampleReport().html()
        XCTAssertFalse(html.contains("<script>") || html.contains("<b>x</b>") || html.contains("<projector>"))
        XCTAssertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && html.contains("&quot;q&quot;"))
        XCTAssertEqual(html.components(separatedBy: "data:image/png;base64,").count - 1, 3)
        XCTAssertTrue(html.contains("data:image/svg+xml;base64,"))
        XCTAssertTrue(html.contains("card right") && html.contains("card wrong") && html.contains("card unjudged"))
    }

    func testWritesAtomically() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("report.html")
        let report = try Self.exampleReport()
        try report.write(to: url)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), report.html())
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["report.html"])
        XCTAssertThrowsError(try report.write(to: folder.appendingPathComponent("missing/report.html")))
    }
}
