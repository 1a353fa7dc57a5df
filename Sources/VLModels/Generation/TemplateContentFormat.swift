import Foundation

/// How a chat template reads `message['content']`, found from its source as vLLM's server does: a
/// template that loops over (or filters) the content wants a list of parts; one that adds it to a
/// string wants a string; one that tests `is string` takes either. A message is handed over in the
/// form its template reads (a string becomes one text part; parts become one string with an
/// `<image>` marker for each image) — transformers passes it as given, which with the Hub's
/// llava-1.5 template silently drops a string's text.
public enum TemplateContentFormat: Equatable {
    case string
    case parts
    case either

    public init(template source: String) {
        let content = #"(\[\s*['"]content['"]\s*\]|\.content)"#
        func has(_ pattern: String) -> Bool { source.range(of: pattern, options: .regularExpression) != nil }
        if has(#"content'?"?\]?\s+is\s+(not\s+)?(string|iterable|sequence|mapping)"#) {
            self = .either
        } else if has(#"for\s+\w+\s+in\s+\w+"# + content)
            || has(content + #"\s*\|\s*(selectattr|rejectattr|select|reject|map)"#)
            || has(content + #"\s*\[\s*0\s*\]"#)
        {
            self = .parts
        } else {
            self = .string
        }
    }

    /// The message's content in this form.
    func content(of message: ChatMessage) -> ChatMessage.Content {
        switch (self, message.content) {
        case (.parts, .text(let t)): return .parts([.text(t)])
        case (.string, .parts): return .text(message.text)
        default: return message.content
        }
    }
}
