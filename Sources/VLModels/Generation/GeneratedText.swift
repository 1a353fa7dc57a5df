import VLTokenizers

/// The text of generated tokens as it can be sent: whole UTF-8 characters only, and held back
/// while it could still be the start of a stop string. Generation ends where a stop string
/// appears; the stop string is not part of the text.
public struct GeneratedText {
    private var decoder: StreamingDecoder
    private let stopStrings: [String]
    /// Everything decoded so far (cut before a stop string once one appeared).
    public private(set) var text = ""
    public private(set) var stopped = false
    private var sent = 0

    public init(tokenizer: Tokenizer, stopStrings: [String] = []) {
        decoder = StreamingDecoder(tokenizer)
        self.stopStrings = stopStrings.filter { !$0.isEmpty }
    }

    /// Adds a token; returns the text that can now be sent and whether a stop string appeared.
    public mutating func push(_ token: Int) -> (text: String, stopped: Bool) {
        guard !stopped else { return ("", true) }
        return (release(decoder.push(token), final: false), stopped)
    }

    /// The text still held back, at the end of generation.
    public mutating func finish() -> String {
        guard !stopped else { return "" }
        return release(decoder.finish(), final: true)
    }

    private mutating func release(_ piece: String, final: Bool) -> String {
        text += piece
        if let hit = stopStrings.compactMap({ text.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
            text = String(text[..<hit.lowerBound])
            stopped = true
        }
        let safe = stopped || final ? text.count : text.count - heldBack()
        guard safe > sent else { return "" }
        defer { sent = safe }
        return String(text.dropFirst(sent).prefix(safe - sent))
    }

    /// Characters at the end of the text that begin some stop string.
    private func heldBack() -> Int {
        var held = 0
        for stop in stopStrings {
            for n in stride(from: Swift.min(stop.count - 1, text.count), to: 0, by: -1)
            where text.hasSuffix(String(stop.prefix(n))) {
                held = Swift.max(held, n)
                break
            }
        }
        return held
    }
}
