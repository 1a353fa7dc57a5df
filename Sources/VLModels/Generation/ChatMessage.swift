/// One turn of a conversation, its content as the caller gave it: a plain string, or parts (text
/// and images in order) — what transformers' `apply_chat_template` hands a chat template.
public struct ChatMessage {
    public enum Part: Equatable {
        case text(String)
        case image
    }

    public enum Content: Equatable {
        case text(String)
        case parts([Part])
    }

    public let role: String
    public let content: Content

    public init(role: String, content: Content) { (self.role, self.content) = (role, content) }

    /// A turn typed at a prompt with `images` images: parts (the images, then the text) — or a plain
    /// string when the text places its images itself with `<image>` markers, or has none and
    /// `asParts` is false (a text-only model's turn).
    public static func turn(role: String, text: String, images: Int, asParts: Bool = true) -> ChatMessage {
        if text.contains(imageMarker) || (images == 0 && !asParts) {
            return ChatMessage(role: role, content: .text(text))
        }
        return ChatMessage(role: role, content: .parts([Part](repeating: .image, count: images) + [.text(text)]))
    }

    /// Marks an image's place in text.
    public static let imageMarker = "<image>"

    /// How many images the turn carries (parts, or markers in plain text).
    public var imageCount: Int {
        switch content {
        case .text(let t): return t.components(separatedBy: Self.imageMarker).count - 1
        case .parts(let parts): return parts.filter { $0 == .image }.count
        }
    }

    /// The turn as one string: each image part an `<image>` marker in its place, adjacent text parts
    /// joined by newlines (for prompt formats that are not chat templates).
    public var text: String {
        switch content {
        case .text(let t): return t
        case .parts(let parts):
            var text = "", previousIsText = false
            for part in parts {
                if case .text(let t) = part {
                    text += (previousIsText ? "\n" : "") + t
                } else {
                    text += Self.imageMarker
                }
                previousIsText = part != .image
            }
            return text
        }
    }

    /// The turn's text without its images (text parts joined by newlines, markers removed).
    public var textOnly: String {
        switch content {
        case .text(let t): return t.replacingOccurrences(of: Self.imageMarker, with: "")
        case .parts(let parts):
            return parts.compactMap { if case .text(let t) = $0 { return t } else { return nil } }.joined(
                separator: "\n")
        }
    }

    /// Whether the text places its images itself.
    public var hasMarkers: Bool { if case .text = content { return imageCount > 0 } else { return false } }
}
