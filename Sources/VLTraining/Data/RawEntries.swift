import Foundation

/// Splitting a dataset file into entries with their line numbers: one per line for JSONL, one per
/// element for a JSON array.
enum RawEntries {
    /// Non-blank lines of a JSONL file; a line that is not JSON becomes a bad entry, not an error.
    static func jsonLines(_ text: String) -> [RawEntry] {
        text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { i, line in
            guard line.contains(where: { !$0.isWhitespace }) else { return nil }
            guard let value = try? JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed])
            else {
                return RawEntry(line: i + 1, value: .failure(EntryProblem("not valid JSON")))
            }
            return RawEntry(line: i + 1, value: .success(value))
        }
    }

    /// The elements of a file holding one JSON array, each with the line it starts on.
    static func jsonArray(_ text: String, file: URL) throws -> [RawEntry] {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: Data(text.utf8))
        } catch {
            throw DatasetError(file, "not valid JSON (\(jsonErrorDetail(error)))")
        }
        guard let items = value as? [Any] else {
            throw DatasetError(file, "expected a JSON array of entries, found \(JSONRecord.kind(of: value))")
        }
        let lines = DatasetFile.lineNumbers(of: topLevelElementOffsets(text), in: text)
        guard lines.count == items.count else {
            throw DatasetError(file, "cannot locate the array's \(items.count) entries")
        }
        return zip(lines, items).map { RawEntry(line: $0, value: .success($1)) }
    }

    /// UTF-8 offsets where each element of the top-level array starts (a scan of valid JSON).
    static func topLevelElementOffsets(_ text: String) -> [Int] {
        var offsets: [Int] = [], depth = 0, inString = false, escaped = false, expectingElement = false
        for (offset, byte) in text.utf8.enumerated() {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            let isSpace = byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
            if depth == 1 && expectingElement && !isSpace && byte != UInt8(ascii: "]") {
                offsets.append(offset)
                expectingElement = false
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth == 1 { expectingElement = true }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            case UInt8(ascii: ",") where depth == 1: expectingElement = true
            default: break
            }
        }
        return offsets
    }

    /// Foundation's description of where the JSON went wrong, when it gives one.
    static func jsonErrorDetail(_ error: Error) -> String {
        let info = (error as NSError).userInfo
        return (info[NSDebugDescriptionErrorKey] as? String) ?? (error as NSError).localizedDescription
    }
}
