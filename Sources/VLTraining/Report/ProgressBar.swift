import Foundation

/// A progress bar on stderr for long work (training steps, evaluation batches): step/total, a bar,
/// the caller's fields (loss, learning rate), samples per second and the time left.
///
/// On a terminal it is redrawn in place (at most ten times a second); otherwise it prints a plain
/// line each time another `plainLineEvery` percent is done, so CI logs stay readable.
public final class ProgressBar {
    private let total: Int
    private let label: String
    private let samplesPerStep: Int
    private let plainLineEvery: Int
    private let interactive: Bool
    private let write: (String) -> Void
    private let now: () -> Date
    private let start: Date
    private var lastStep = 0
    private var lastFields: [(String, String)] = []
    private var lastRedraw: Date?
    private var printedPercentStep = -1

    /// `samplesPerStep` turns steps into samples for the rate (the batch size).
    public convenience init(total: Int, label: String, samplesPerStep: Int = 1, plainLineEvery percent: Int = 10) {
        self.init(
            total: total, label: label, samplesPerStep: samplesPerStep, plainLineEvery: percent,
            interactive: isatty(STDERR_FILENO) != 0,
            write: { FileHandle.standardError.write(Data($0.utf8)) }, now: Date.init)
    }

    init(
        total: Int, label: String, samplesPerStep: Int, plainLineEvery percent: Int,
        interactive: Bool, write: @escaping (String) -> Void, now: @escaping () -> Date
    ) {
        (self.total, self.label, self.samplesPerStep) = (max(total, 1), label, samplesPerStep)
        (self.plainLineEvery, self.interactive, self.write, self.now) = (
            min(max(percent, 1), 100), interactive, write, now
        )
        start = now()
    }

    /// Reports that `step` of `total` steps are done; `fields` are shown in order, e.g. `[("loss", "2.31")]`.
    public func update(step: Int, fields: [(String, String)] = []) {
        (lastStep, lastFields) = (min(max(step, 0), total), fields)
        let time = now()
        if interactive {
            guard lastStep == total || lastRedraw.map({ time.timeIntervalSince($0) >= 0.1 }) ?? true else { return }
            lastRedraw = time
            write("\r\u{1B}[K" + line(at: time, finished: false))
        } else {
            let percentStep = lastStep * 100 / total / plainLineEvery
            guard percentStep > printedPercentStep else { return }
            printedPercentStep = percentStep
            write(line(at: time, finished: false) + "\n")
        }
    }

    /// Ends the bar with the total time taken, on its own line.
    public func finish() {
        let text = line(at: now(), finished: true)
        write(interactive ? "\r\u{1B}[K" + text + "\n" : text + "\n")
    }

    func line(at time: Date, finished: Bool) -> String {
        let elapsed = time.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(lastStep * samplesPerStep) / elapsed : 0
        let width = 24, filled = lastStep * width / total
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        var parts = lastFields.map { "\($0.0) \($0.1)" }
        parts.append(String(format: "%.1f samples/s", rate))
        if finished {
            parts.append("took \(formatDuration(elapsed))")
        } else if rate > 0 {
            parts.append("ETA \(formatDuration(Double((total - lastStep) * samplesPerStep) / rate))")
        }
        return "\(label) \(lastStep)/\(total) \(bar) " + parts.joined(separator: " · ")
    }
}

/// "45s", "3m05s", "2h07m".
func formatDuration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    if s >= 3600 { return String(format: "%dh%02dm", s / 3600, s % 3600 / 60) }
    if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return "\(s)s"
}
