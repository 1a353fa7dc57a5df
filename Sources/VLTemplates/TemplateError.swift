/// A problem with a chat template: its syntax, something it does while rendering, a limit it
/// reached, or its own `raise_exception(message)`.
public struct TemplateError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// The template does not parse.
        case syntax
        /// Rendering failed: an undefined value used where jinja fails, a type error, an unknown filter…
        case render
        /// The template called `raise_exception(message)`.
        case raised
        /// A bound of `TemplateLimits` was reached; the name is the limit's property.
        case limit(String)
    }

    public let kind: Kind
    public let message: String
    /// The template line (from 1) where it happened, when known.
    public internal(set) var line: Int?

    public init(_ message: String, kind: Kind = .render, line: Int? = nil) {
        (self.message, self.kind, self.line) = (message, kind, line)
    }

    /// `raise_exception`'s message as the template wrote it (as transformers shows it); otherwise
    /// the message with the line.
    public var description: String {
        if kind == .raised { return message }
        guard let line else { return "chat template: \(message)" }
        return "chat template line \(line): \(message)"
    }

    static func syntax(_ message: String, line: Int) -> TemplateError {
        TemplateError(message, kind: .syntax, line: line)
    }

    static func limit(_ name: String, _ message: String, line: Int? = nil) -> TemplateError {
        TemplateError("\(message) (TemplateLimits.\(name))", kind: .limit(name), line: line)
    }

    /// This error with `line` filled in when it has none yet.
    func at(_ line: Int) -> TemplateError {
        var e = self
        if e.line == nil { e.line = line }
        return e
    }
}
