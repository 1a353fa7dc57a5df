import Foundation

/// A Hugging Face chat template, rendered as transformers' `apply_chat_template(…, tokenize=False)`
/// renders it: jinja2 with `trim_blocks` and `lstrip_blocks` in an immutable sandbox, plus
/// transformers' `raise_exception`, `strftime_now`, `tojson` and `{% generation %}`.
///
/// Supported: `{{ }}`, `{% if/elif/else %}`, `{% for … in … if … %}` with `else`, `loop.*`,
/// `{% break %}`/`{% continue %}`, `{% set %}` (also `ns.attr` and block form), `{% macro %}` with
/// defaults, `{% filter %}`, `{% with %}`, `{% raw %}`, comments and whitespace control;
/// jinja's operators, tests and filters that templates use, and Python's string, dict and list
/// methods that do not change a value. Anything else is a `TemplateError` naming it, and every
/// render is bounded by `TemplateLimits`.
public struct ChatTemplate: Sendable {
    public let limits: TemplateLimits
    private let program: Program

    public init(_ source: String, limits: TemplateLimits = .default) throws {
        guard source.utf8.count <= limits.maxSourceBytes else {
            throw TemplateError.limit(
                "maxSourceBytes",
                "the template has \(source.utf8.count) bytes, more than "
                    + "\(limits.maxSourceBytes)")
        }
        var parser = Parser(tokens: try Lexer.tokenize(source), maxDepth: limits.maxDepth)
        let nodes = try parser.parseTemplate()
        try Validator.check(nodes)
        program = Program(nodes: nodes)
        self.limits = limits
    }

    /// Renders with `messages`, `add_generation_prompt`, `bos_token`, `tools`… in `variables`;
    /// `strftime_now` reads `clock`. As `apply_chat_template` does, `tools` and `documents` are
    /// none and `add_generation_prompt` is false unless given (templates test `tools is not none`).
    public func render(_ variables: [String: TemplateValue], clock: TemplateClock = .system) throws -> String {
        var all = variables
        for (name, value) in ChatTemplate.defaults where all[name] == nil { all[name] = value }
        let renderer = try Renderer(variables: all, limits: limits, clock: clock)
        _ = try renderer.run(program.nodes)
        return renderer.buffers[0]
    }

    /// What transformers' `render_jinja_template` always passes.
    static let defaults: [String: TemplateValue] = [
        "tools": .none, "documents": .none, "add_generation_prompt": .bool(false),
    ]
}

/// The parsed nodes; immutable once parsed, so a template can be shared between threads.
private final class Program: @unchecked Sendable {
    let nodes: [Node]
    init(nodes: [Node]) { self.nodes = nodes }
}
