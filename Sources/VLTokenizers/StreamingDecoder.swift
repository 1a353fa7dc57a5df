/// Turns a growing list of token ids into text pieces as they are generated, never emitting half
/// of a UTF-8 character (a byte-level or byte-fallback token may end in the middle of one).
public struct StreamingDecoder {
    private let decode: ([Int]) -> String
    private var ids: [Int] = []
    private var emitted = ""

    public init(skipSpecialTokens: Bool = true, decode: @escaping ([Int], Bool) -> String) {
        self.decode = { decode($0, skipSpecialTokens) }
    }

    public init(_ tokenizer: Tokenizer, skipSpecialTokens: Bool = true) {
        self.init(skipSpecialTokens: skipSpecialTokens) { tokenizer.decode($0, skipSpecialTokens: $1) }
    }

    /// Adds a token; returns the text it completes (possibly empty).
    public mutating func push(_ id: Int) -> String {
        ids.append(id)
        let text = decode(ids)
        guard !text.hasSuffix("\u{FFFD}"), text.hasPrefix(emitted) else { return "" }
        let piece = String(text.dropFirst(emitted.count))
        emitted = text
        return piece
    }

    /// Whatever is left at the end (a trailing incomplete character included as U+FFFD).
    public mutating func finish() -> String {
        let text = decode(ids)
        defer { emitted = text }
        return text.hasPrefix(emitted) ? String(text.dropFirst(emitted.count)) : ""
    }
}
