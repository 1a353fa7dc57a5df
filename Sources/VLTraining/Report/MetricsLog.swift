import Foundation
import VLFiles
import VLIO

/// A value in a metrics log line.
public enum MetricValue: Equatable, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByStringLiteral, ExpressibleByBooleanLiteral
{
    case int(Int), double(Double), string(String), bool(Bool)

    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }

    /// The value as JSON; a NaN or infinite double becomes `null`, which JSON can hold.
    var json: String {
        switch self {
        case .int(let v): return "\(v)"
        case .double(let v): return v.isFinite ? "\(v)" : "null"
        case .string(let v): return jsonString(v)
        case .bool(let v): return v ? "true" : "false"
        }
    }
}

/// A metrics log in JSON Lines: one JSON object per line, keys in the order given,
/// e.g. `{"step": 120, "loss": 2.31, "lr": 0.0003}`.
///
/// Each line goes to the file in a single append, so a crash never leaves half a line behind, and
/// nothing is buffered in the process: a reader (or a plot) sees every line as soon as it is logged.
public final class MetricsLog {
    public let url: URL
    private let descriptor: Int32

    /// Starts a new, empty log at `url` (replacing an old one atomically), or with `append` continues
    /// an existing one — dropping a partial last line that a power loss may have left.
    public init(url: URL, append: Bool = false) throws {
        self.url = url
        if append && FileManager.default.fileExists(atPath: url.path) {
            try dropPartialLastLine(of: url)
        } else {
            do { try writeAtomically(Data(), to: url) } catch { throw ReportError("\(error)") }
        }
        descriptor = open(url.path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ReportError("\(url.path): cannot open: \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(descriptor) }

    /// Appends one line, e.g. `try log.write(["step": 3, "loss": .double(loss), "stage": "align"])`.
    public func write(_ fields: KeyValuePairs<String, MetricValue>) throws {
        try write(fields.map { ($0.key, $0.value) })
    }

    /// The same for fields put together at run time (some lines have a field others lack).
    public func write(_ fields: [(key: String, value: MetricValue)]) throws {
        let line = "{" + fields.map { "\(jsonString($0.key)): \($0.value.json)" }.joined(separator: ", ") + "}\n"
        let bytes = Array(line.utf8)
        let end = lseek(descriptor, 0, SEEK_END)
        let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            let reason = written < 0 ? String(cString: strerror(errno)) : "only part of the line was written"
            ftruncate(descriptor, end)  // take back the part of the line that did get written
            throw ReportError("\(url.path): cannot write: \(reason)")
        }
    }
}

/// Cuts a file back to just after its last newline.
private func dropPartialLastLine(of url: URL) throws {
    guard let data = FileManager.default.contents(atPath: url.path) else {
        throw ReportError("\(url.path): cannot be read")
    }
    let keep = (data.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? 0
    guard keep < data.count else { return }
    guard truncate(url.path, off_t(keep)) == 0 else {
        throw ReportError("\(url.path): cannot drop the partial last line: \(String(cString: strerror(errno)))")
    }
}

/// A JSON string literal: quotes, backslashes and control characters escaped.
func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
