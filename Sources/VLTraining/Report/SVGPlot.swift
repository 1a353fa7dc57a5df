import Foundation

/// How the y axis maps values: evenly, or by powers of ten (for losses spanning decades).
public enum PlotScale { case linear, log }

/// A line plot as a self-contained SVG 1.1 document: axes with round-numbered ticks and grid lines,
/// a title, axis labels, and a legend with one colour per series.
///
/// A NaN or infinite value (and, on a log scale, a value ≤ 0) is left out and breaks its line;
/// a point with no neighbour to join is drawn as a dot, so a single point still shows.
public func svgLinePlot(
    series: [(name: String, points: [(Double, Double)])], title: String, xLabel: String,
    yLabel: String, yScale: PlotScale = .linear, width: Int = 640, height: Int = 400
) -> String {
    let frame = PlotFrame(width: Double(width), height: Double(height))
    let runs = series.map { visibleRuns($0.points, yScale: yScale) }
    let allPoints = runs.flatMap { $0.flatMap { $0 } }
    let xAxis = Axis(values: allPoints.map(\.0), scale: .linear)
    let yAxis = Axis(values: allPoints.map(\.1), scale: yScale)
    var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="\(width)" height="\(height)" \
        viewBox="0 0 \(width) \(height)" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(fmt(frame.left + frame.plotWidth / 2))" y="22" text-anchor="middle" font-size="15" font-weight="bold">\(xmlEscape(title))</text>

        """
    svg += gridAndTicks(frame: frame, xAxis: xAxis, yAxis: yAxis)
    svg += axisLabels(frame: frame, xLabel: xLabel, yLabel: yLabel)
    if allPoints.isEmpty {
        svg +=
            "<text x=\"\(fmt(frame.left + frame.plotWidth / 2))\" y=\"\(fmt(frame.top + frame.plotHeight / 2))\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n"
    }
    for (index, seriesRuns) in runs.enumerated() {
        svg += seriesMarks(seriesRuns, colour: plotColour(index), frame: frame, xAxis: xAxis, yAxis: yAxis)
    }
    svg += legend(names: series.map(\.name), frame: frame)
    return svg + "</svg>\n"
}

/// Where the plotting area sits in the picture; the legend takes the right margin.
private struct PlotFrame {
    let width: Double, height: Double
    let left = 72.0, top = 36.0, bottom = 52.0, legendWidth = 150.0
    var plotWidth: Double { width - left - legendWidth }
    var plotHeight: Double { height - top - bottom }
}

/// An axis's range, widened to round tick values, and its ticks. On a log scale, values and ticks
/// are powers of ten (exponents internally).
private struct Axis {
    let scale: PlotScale
    let low: Double, high: Double
    let ticks: [Double]

    init(values: [Double], scale: PlotScale) {
        self.scale = scale
        let mapped = scale == .log ? values.map(log10) : values
        var (low, high) = (mapped.min() ?? 0, mapped.max() ?? 1)
        if low == high { (low, high) = low == 0 ? (-1, 1) : (low - abs(low) * 0.5, high + abs(high) * 0.5) }
        if scale == .log {
            (low, high) = (floor(low), ceil(high))
            let step = max(1, ceil((high - low) / 8))
            let decades = stride(from: low, through: high, by: step).map { $0 }
            // Over one or two decades, 2× and 5× ticks too, so the axis has enough numbers to read.
            let multiples = high - low <= 2 ? [1.0, 2, 5] : [1]
            ticks = decades.flatMap { d in multiples.map { d + log10($0) } }.filter { $0 <= high }
        } else {
            let step = niceStep((high - low) / 5)
            (low, high) = (floor(low / step) * step, ceil(high / step) * step)
            ticks = stride(from: low, through: high + step / 2, by: step).map { ($0 / step).rounded() * step }
        }
        (self.low, self.high) = (low, high)
    }

    /// 0…1 along the axis.
    func fraction(_ value: Double) -> Double {
        ((scale == .log ? log10(value) : value) - low) / (high - low)
    }

    func label(_ tick: Double) -> String {
        scale == .log
            ? tickLabel(pow(10, tick), step: pow(10, tick))
            : tickLabel(tick, step: ticks.count > 1 ? ticks[1] - ticks[0] : 1)
    }
}

/// 1, 2 or 5 times a power of ten, the nearest at or above `rough`.
private func niceStep(_ rough: Double) -> Double {
    let magnitude = pow(10, floor(log10(rough)))
    let nice = [1.0, 2, 5, 10].first { $0 * magnitude >= rough * 0.999 } ?? 10
    return nice * magnitude
}

/// A tick value with as many decimals as its step needs, or in exponent form when very large or small.
private func tickLabel(_ value: Double, step: Double) -> String {
    if value == 0 { return "0" }
    if abs(value) >= 1e5 || abs(value) < 1e-3 { return String(format: "%g", value) }
    let decimals = max(0, Int(-floor(log10(step))))
    return String(format: "%.\(decimals)f", value)
}

/// The series's points split where an unplottable value interrupts them.
private func visibleRuns(_ points: [(Double, Double)], yScale: PlotScale) -> [[(Double, Double)]] {
    var runs: [[(Double, Double)]] = [[]]
    for (x, y) in points {
        if x.isFinite && y.isFinite && (yScale == .linear || y > 0) {
            runs[runs.count - 1].append((x, y))
        } else if !runs[runs.count - 1].isEmpty {
            runs.append([])
        }
    }
    return runs.filter { !$0.isEmpty }
}

private func gridAndTicks(frame: PlotFrame, xAxis: Axis, yAxis: Axis) -> String {
    var svg = ""
    let bottom = frame.top + frame.plotHeight, right = frame.left + frame.plotWidth
    for tick in xAxis.ticks {
        let x = fmt(frame.left + (tick - xAxis.low) / (xAxis.high - xAxis.low) * frame.plotWidth)
        svg += "<line x1=\"\(x)\" y1=\"\(fmt(frame.top))\" x2=\"\(x)\" y2=\"\(fmt(bottom + 5))\" stroke=\"#e3e3e3\"/>\n"
        svg += "<text x=\"\(x)\" y=\"\(fmt(bottom + 18))\" text-anchor=\"middle\">\(xAxis.label(tick))</text>\n"
    }
    for tick in yAxis.ticks {
        let y = fmt(bottom - (tick - yAxis.low) / (yAxis.high - yAxis.low) * frame.plotHeight)
        svg += "<line x1=\"\(fmt(frame.left - 5))\" y1=\"\(y)\" x2=\"\(fmt(right))\" y2=\"\(y)\" stroke=\"#e3e3e3\"/>\n"
        svg +=
            "<text x=\"\(fmt(frame.left - 8))\" y=\"\(y)\" dy=\"4\" text-anchor=\"end\">\(yAxis.label(tick))</text>\n"
    }
    svg +=
        "<rect x=\"\(fmt(frame.left))\" y=\"\(fmt(frame.top))\" width=\"\(fmt(frame.plotWidth))\" height=\"\(fmt(frame.plotHeight))\" fill=\"none\" stroke=\"#444\"/>\n"
    return svg
}

private func axisLabels(frame: PlotFrame, xLabel: String, yLabel: String) -> String {
    let centreX = fmt(frame.left + frame.plotWidth / 2), centreY = fmt(frame.top + frame.plotHeight / 2)
    return """
        <text x="\(centreX)" y="\(fmt(frame.height - 10))" text-anchor="middle">\(xmlEscape(xLabel))</text>
        <text x="16" y="\(centreY)" text-anchor="middle" transform="rotate(-90 16 \(centreY))">\(xmlEscape(yLabel))</text>

        """
}

private func seriesMarks(
    _ runs: [[(Double, Double)]], colour: String, frame: PlotFrame, xAxis: Axis, yAxis: Axis
) -> String {
    func position(_ p: (Double, Double)) -> String {
        fmt(frame.left + xAxis.fraction(p.0) * frame.plotWidth) + ","
            + fmt(frame.top + (1 - yAxis.fraction(p.1)) * frame.plotHeight)
    }
    return runs.map { run in
        if run.count == 1 {
            let xy = position(run[0]).split(separator: ",")
            return "<circle cx=\"\(xy[0])\" cy=\"\(xy[1])\" r=\"3\" fill=\"\(colour)\"/>\n"
        }
        return
            "<polyline points=\"\(run.map(position).joined(separator: " "))\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.8\" stroke-linejoin=\"round\"/>\n"
    }.joined()
}

private func legend(names: [String], frame: PlotFrame) -> String {
    let x = frame.left + frame.plotWidth + 16
    return names.enumerated().map { index, name in
        let y = frame.top + 10 + Double(index) * 20
        return
            "<line x1=\"\(fmt(x))\" y1=\"\(fmt(y))\" x2=\"\(fmt(x + 22))\" y2=\"\(fmt(y))\" stroke=\"\(plotColour(index))\" stroke-width=\"3\"/>\n"
            + "<text x=\"\(fmt(x + 28))\" y=\"\(fmt(y))\" dy=\"4\">\(xmlEscape(name))</text>\n"
    }.joined()
}

/// Tableau's ten categorical colours, repeated beyond ten series.
private func plotColour(_ index: Int) -> String {
    let palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ]
    return palette[index % palette.count]
}

private func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

/// Text safe inside XML or HTML elements and attribute values.
func xmlEscape(_ s: String) -> String {
    var out = ""
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        case _ where c.unicodeScalars.allSatisfy({ $0.value < 0x20 && $0 != "\n" && $0 != "\t" }): continue  // not allowed in XML
        default: out.append(c)
        }
    }
    return out
}
