import Foundation

/// A progress bar on stderr: redrawn in place on a terminal, a line every 10% otherwise
/// (so logs stay readable), and nothing with `quiet`.
final class ProgressBar {
    private let total: Int
    private let label: String
    private let quiet: Bool
    private let interactive = isatty(STDERR_FILENO) != 0
    private let start = Date()
    private var done = 0
    private var lastDecile = -1

    init(total: Int, label: String, quiet: Bool = false) {
        self.total = max(total, 1)
        self.label = label
        self.quiet = quiet
    }

    /// Advances by `n` items; `status` is shown after the counts (e.g. the current loss).
    func advance(by n: Int = 1, status: String = "") {
        done = min(done + n, total)
        guard !quiet else { return }
        let fraction = Double(done) / Double(total)
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 28, filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line = String(format: "%@ %@ %d/%d  %.1f/s  ETA %@ %@", label, bar, done, total, rate, format(eta), status)
        if interactive {
            FileHandle.standardError.write(("\r\u{1B}[K" + line).data(using: .utf8)!)
            if done == total { FileHandle.standardError.write("\n".data(using: .utf8)!) }
        } else {
            let decile = Int(fraction * 10)
            if decile != lastDecile {
                lastDecile = decile
                FileHandle.standardError.write((line + "\n").data(using: .utf8)!)
            }
        }
    }

    private func format(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 60 ? String(format: "%dm%02ds", s / 60, s % 60) : "\(s)s"
    }
}
