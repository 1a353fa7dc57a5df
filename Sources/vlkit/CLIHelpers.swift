import Foundation
import VLTensor

/// The rows of a 2-D tensor.
func rows(_ t: Tensor) -> [[Float]] {
    let values = t.toArray(), n = t.shape.last ?? 1
    return stride(from: 0, to: values.count, by: n).map { Array(values[$0..<$0 + n]) }
}

func printJSON(_ object: Any) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    print(String(data: data, encoding: .utf8)!)
}

func warn(_ message: String) { note("warning: " + message) }

/// A line on stderr (progress and diagnostics never mix with the results on stdout).
func note(_ message: String) { FileHandle.standardError.write((message + "\n").data(using: .utf8)!) }
