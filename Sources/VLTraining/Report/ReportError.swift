/// A report or log file that cannot be written, naming the file and why.
public struct ReportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
