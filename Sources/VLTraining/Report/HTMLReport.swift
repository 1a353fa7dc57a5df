import Foundation
import VLFiles
import VLIO
import VLImaging

/// One example shown in a report: the image, the question asked, the model's answer and the truth.
/// `isCorrect` colours it green or red; nil leaves it unmarked (e.g. a caption, not judged by exact match).
public struct ReportExample {
    public let image: RGBImage
    public let question: String
    public let answer: String
    public let truth: String
    public let isCorrect: Bool?

    public init(image: RGBImage, question: String, answer: String, truth: String, isCorrect: Bool?) {
        (self.image, self.question, self.answer, self.truth, self.isCorrect) = (
            image, question, answer, truth, isCorrect
        )
    }
}

/// A training or evaluation report as one self-contained HTML file: a title, then sections in the
/// order they are added — paragraphs, tables, plots (SVG) and grids of examples, with images
/// embedded as PNG data URLs. All text is escaped.
public struct HTMLReport {
    public let title: String
    private var sections: [String] = []

    public init(title: String) { self.title = title }

    public mutating func addParagraph(_ text: String) {
        sections.append("<p>\(xmlEscape(text))</p>")
    }

    /// A table with a header row; each row has one string per column.
    public mutating func addTable(_ heading: String, columns: [String], rows: [[String]]) {
        let head = "<tr>" + columns.map { "<th>\(xmlEscape($0))</th>" }.joined() + "</tr>"
        let body = rows.map { "<tr>" + $0.map { "<td>\(xmlEscape($0))</td>" }.joined() + "</tr>" }.joined(
            separator: "\n")
        sections.append("<h2>\(xmlEscape(heading))</h2>\n<table>\n\(head)\n\(body)\n</table>")
    }

    /// An SVG document (e.g. from `svgLinePlot`), embedded as an image so its markup stays apart from the page's.
    public mutating func addPlot(svg: String) {
        sections.append(
            "<img class=\"plot\" alt=\"plot\" src=\"data:image/svg+xml;base64,\(Data(svg.utf8).base64EncodedString())\">"
        )
    }

    /// A grid of examples; throws if an image cannot be encoded.
    public mutating func addExamples(_ heading: String, _ examples: [ReportExample]) throws {
        let cards = try examples.map(card).joined(separator: "\n")
        sections.append("<h2>\(xmlEscape(heading))</h2>\n<div class=\"grid\">\n\(cards)\n</div>")
    }

    private func card(_ example: ReportExample) throws -> String {
        let png = try example.image.pngData().base64EncodedString()
        let (mark, verdict) = example.isCorrect.map { $0 ? ("right", "✓") : ("wrong", "✗") } ?? ("unjudged", "")
        return """
            <div class="card \(mark)"><img src="data:image/png;base64,\(png)" alt="">
            <div class="q">\(xmlEscape(example.question))</div>
            <div><span class="k">model</span> \(xmlEscape(example.answer)) <span class="verdict">\(verdict)</span></div>
            <div><span class="k">truth</span> \(xmlEscape(example.truth))</div></div>
            """
    }

    /// The whole page.
    public func html() -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(xmlEscape(title))</title>
        <style>\(HTMLReport.style)</style></head>
        <body><h1>\(xmlEscape(title))</h1>
        \(sections.joined(separator: "\n"))
        </body></html>

        """
    }

    /// Writes the page atomically (a temporary file beside `url`, then a rename).
    public func write(to url: URL) throws {
        do { try writeAtomically(Data(html().utf8), to: url) } catch { throw ReportError("\(error)") }
    }

    private static let style = """
        body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1400px}
        h1{font-size:24px}h2{font-size:18px;margin-top:28px}
        table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:4px 10px;text-align:left}
        th{background:#f2f2f2}tr:nth-child(even) td{background:#fafafa}
        img.plot{display:block;margin:12px 0;max-width:100%}
        .grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:12px}
        .card{border:2px solid #bbb;border-radius:6px;padding:8px;font-size:13px;overflow-wrap:anywhere}
        .card img{width:192px;height:auto;image-rendering:pixelated;display:block;margin-bottom:6px}
        .card.right{border-color:#2e9d3a;background:#f0faf1}.card.wrong{border-color:#d0342c;background:#fdf1f0}
        .right .verdict{color:#2e9d3a}.wrong .verdict{color:#d0342c}.verdict{font-weight:bold}
        .q{font-weight:bold;margin-bottom:4px}.k{color:#777;display:inline-block;width:40px}
        """
}
