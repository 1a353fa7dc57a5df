import Foundation

/// Reading a dataset file as text, with a clear error for everything that is not a readable,
/// non-empty UTF-8 file.
enum DatasetFile {
    static func text(of file: URL) throws -> String {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file.path, isDirectory: &isFolder) else {
            throw DatasetError(file, "no such file")
        }
        guard !isFolder.boolValue else { throw DatasetError(file, "is a folder, not a dataset file") }
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw DatasetError(file, "cannot be read")
        }
        guard let text = String(validatingUTF8Data: data) else {
            throw DatasetError(file, line: firstLineNotUTF8(data), "is not UTF-8 text")
        }
        guard text.contains(where: { !$0.isWhitespace }) else { throw DatasetError(file, "the file is empty") }
        return text
    }

    /// 1-based number of the first line whose bytes are not valid UTF-8.
    static func firstLineNotUTF8(_ data: Data) -> Int {
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        return 1 + (lines.firstIndex { String(validatingUTF8Data: Data($0)) == nil } ?? 0)
    }

    /// 1-based line number of each byte offset in `offsets` (ascending) within `text`'s UTF-8.
    static func lineNumbers(of offsets: [Int], in text: String) -> [Int] {
        var result: [Int] = [], line = 1, position = 0
        var bytes = text.utf8.makeIterator()
        for offset in offsets {
            while position < offset, let b = bytes.next() {
                if b == UInt8(ascii: "\n") { line += 1 }
                position += 1
            }
            result.append(line)
        }
        return result
    }
}

extension String {
    /// The text of `data` if it is valid UTF-8 (`String(decoding:)` would repair invalid bytes).
    init?(validatingUTF8Data data: Data) {
        let text = String(decoding: data, as: UTF8.self)
        guard text.utf8.elementsEqual(data) else { return nil }
        self = text
    }
}
