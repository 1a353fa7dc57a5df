import Foundation

/// A dataset file that cannot be used, or (in strict mode) its first bad entry: names the file,
/// the line when there is one, and what is wrong.
public struct DatasetError: Error, CustomStringConvertible {
    public let description: String

    public init(_ file: URL, _ problem: String) { description = "\(file.path): \(problem)" }

    public init(_ file: URL, line: Int, _ problem: String) { description = "\(file.path) line \(line): \(problem)" }
}

/// What is wrong with one entry (a field, its type, its image); the loader adds file and line.
struct EntryProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
