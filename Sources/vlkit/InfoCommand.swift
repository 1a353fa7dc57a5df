import ArgumentParser
import Foundation
import VLIO
import VLTensor

/// `vlkit info FILE.gguf`: a GGUF file's metadata (as gguf-dump shows it), its tensors by type and their bytes.
/// Without a file it shows the kernels and threads this machine uses.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show a GGUF file's metadata and tensors; without a file, the kernels and threads this machine uses.")
    @Argument(help: "A .gguf file.") var file: String?
    @Flag(help: "List every tensor: name, shape (PyTorch order), type, bytes.") var tensors = false
    @Flag(help: "Print JSON.") var json = false

    /// Arrays longer than this show their first elements and their length.
    static let shownElements = 6
    /// Strings longer than this are cut in the text output.
    static let shownCharacters = 60

    func validate() throws {
        if file == nil && (tensors || json) { throw ValidationError("--tensors and --json need a GGUF file") }
    }

    func run() throws { print(try render()) }

    func render() throws -> String {
        guard let file else { return "kernels: \(String(cString: ck_isa_name()))  threads: \(Parallel.threadCount)" }
        let f = try GGUFFile(path: file)
        if json {
            let data = try JSONSerialization.data(
                withJSONObject: Self.jsonObject(f, tensors: tensors), options: [.sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self)
        }
        return Self.text(f, tensors: tensors)
    }

    // MARK: Text

    static func text(_ f: GGUFFile, tensors listTensors: Bool) -> String {
        var lines = [
            "\(f.path): GGUF version \(f.version), alignment \(f.alignment), tensor data at byte \(f.dataOffset) "
                + "of \(f.fileSize)",
            "* \(f.metadata.count) key/value pair(s)",
        ]
        for (n, (key, value)) in f.metadata.enumerated() {
            let type = padRight(value.typeName, 10)
            let count = value.array?.count ?? 1
            lines.append("  \(pad(n + 1, 5)): \(type) | \(pad(count, 8)) | \(key) = \(show(value))")
        }
        let total = f.tensors.reduce(0) { $0 + $1.byteCount }
        lines.append("* \(f.tensors.count) tensor(s), \(total) bytes (\(humanBytes(total)))")
        for (type, count, bytes) in perType(f) {
            lines.append(
                "  \(padRight(type.name, 6)) \(pad(count, 6)) tensor(s) "
                    + "\(pad(bytes, 14)) bytes")
        }
        if listTensors {
            let width = f.tensors.map(\.name.count).max() ?? 0
            for (n, t) in f.tensors.enumerated() {
                let shape = padRight("\(t.shape)", 24)
                lines.append(
                    "  \(pad(n + 1, 5)): \(padRight(t.name, width))  \(shape) "
                        + padRight(t.type.name, 5)
                        + " \(pad(t.byteCount, 12)) bytes"
                )
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The tensor types in id order, with how many tensors and bytes each has.
    static func perType(_ f: GGUFFile) -> [(GGMLType, Int, Int)] {
        var counts: [GGMLType: (Int, Int)] = [:]
        for t in f.tensors {
            let (count, bytes) = counts[t.type] ?? (0, 0)
            counts[t.type] = (count + 1, bytes + t.byteCount)
        }
        return GGMLType.allCases.compactMap { type in counts[type].map { (type, $0.0, $0.1) } }
    }

    /// `s` with spaces after it up to `width` characters (never cut).
    static func padRight(_ s: String, _ width: Int) -> String {
        s + String(repeating: " ", count: max(0, width - s.count))
    }

    static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return String(repeating: " ", count: max(0, width - s.count)) + s
    }

    static func humanBytes(_ n: Int) -> String {
        let units = ["bytes", "kB", "MB", "GB", "TB"]
        var v = Double(n), unit = 0
        while v >= 1000 && unit < units.count - 1 {
            v /= 1000
            unit += 1
        }
        return unit == 0 ? "\(n) bytes" : String(format: "%.1f %@", v, units[unit])
    }

    /// A value as the text output shows it: strings quoted and cut, long arrays shortened as `[a, b, … N items]`.
    static func show(_ value: GGUFValue) -> String {
        switch value {
        case .string(let s):
            let cut = s.count > shownCharacters ? String(s.prefix(shownCharacters - 3)) + "…" : s
            return quoted(cut)
        case .array(let elements):
            var parts = elements.prefix(shownElements).map(show)
            if elements.count > shownElements { parts.append("… \(elements.count) items") }
            return "[" + parts.joined(separator: ", ") + "]"
        case .float32(let v): return "\(v)"
        case .float64(let v): return "\(v)"
        case .bool(let v): return "\(v)"
        case .uint64(let v): return "\(v)"
        default: return value.int.map(String.init) ?? "\(value)"
        }
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if c.value < 0x20 || c.value == 0x7F {
                    out += String(format: "\\u{%X}", c.value)
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out + "\""
    }

    // MARK: JSON

    static func jsonObject(_ f: GGUFFile, tensors listTensors: Bool) -> [String: Any] {
        var object: [String: Any] = [
            "path": f.path, "version": f.version, "alignment": f.alignment, "data_offset": f.dataOffset,
            "file_bytes": f.fileSize,
            "metadata": f.metadata.map { key, value -> [String: Any] in
                var entry: [String: Any] = ["key": key, "type": value.typeName, "value": jsonValue(value)]
                if let elements = value.array {
                    entry["count"] = elements.count
                    if elements.count > shownElements { entry["shortened"] = true }
                }
                return entry
            },
            "tensor_count": f.tensors.count, "tensor_bytes": f.tensors.reduce(0) { $0 + $1.byteCount },
            "tensor_types": Dictionary(
                uniqueKeysWithValues: perType(f).map { ($0.0.name, ["count": $0.1, "bytes": $0.2]) }),
        ]
        if listTensors {
            object["tensors"] = f.tensors.map { t -> [String: Any] in
                [
                    "name": t.name, "shape": t.shape, "dimensions": t.dimensions, "type": t.type.name,
                    "bytes": t.byteCount, "offset": t.offset,
                ]
            }
        }
        return object
    }

    /// JSON for a value: numbers, strings (whole), booleans; arrays shortened to their first elements; the
    /// non-finite floats JSON has no numbers for as the strings "inf", "-inf" and "nan".
    static func jsonValue(_ value: GGUFValue) -> Any {
        func number(_ d: Double) -> Any { d.isFinite ? d : d.isNaN ? "nan" : d < 0 ? "-inf" : "inf" }
        switch value {
        case .string(let s): return s
        case .bool(let b): return b
        case .float32(let v): return number(Double(v))
        case .float64(let v): return number(v)
        case .uint64(let v): return NSNumber(value: v)
        case .array(let elements): return elements.prefix(shownElements).map(jsonValue)
        default: return value.int ?? 0
        }
    }
}
