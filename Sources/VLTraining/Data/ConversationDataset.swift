import Foundation

/// One exchange of a conversation: the human's question (its `<image>` marker removed) and the answer.
public struct ConversationTurn: Equatable, Sendable {
    public var question: String
    public var answer: String
}

/// A LLaVA instruction-tuning entry: an id, the image (text-only entries have none) and its turns in order.
public struct Conversation: Equatable, Sendable {
    public var id: String
    public var image: URL?
    public var turns: [ConversationTurn]
}

extension Dataset where Entry == Conversation {
    /// LLaVA conversation JSON: an array of `{"id", "image", "conversations": [{"from": "human",
    /// "value": "<image>\n…"}, {"from": "gpt", "value": "…"}, …]}`, human and gpt alternating.
    public static func conversations(
        _ file: URL, imageFolder: URL? = nil, options: LoadOptions = LoadOptions()
    ) throws -> Dataset {
        let folder = imageFolder ?? file.deletingLastPathComponent()
        let validation = EntryValidation<Conversation>(
            file: file, options: options,
            parse: { record in
                try Conversation(record, folder: folder)
            }, images: { $0.image.map { [$0] } ?? [] })
        let text = try DatasetFile.text(of: file)
        return try validation.run(RawEntries.jsonArray(text, file: file))
    }
}

extension Conversation {
    static let imageMarker = "<image>"

    init(_ record: JSONRecord, folder: URL) throws {
        id = try record.identifier("id")
        image = record.has("image") ? try record.imagePath("image", in: folder) : nil
        let messages = try record.array("conversations", of: [String: Any].self, named: "an object").map(
            JSONRecord.init)
        guard !messages.isEmpty, messages.count % 2 == 0 else {
            throw EntryProblem("\"conversations\" should hold human/gpt pairs, found \(messages.count) message(s)")
        }
        var markers = 0
        turns = try stride(from: 0, to: messages.count, by: 2).map { i in
            let question = try Conversation.message(messages[i], from: "human", index: i)
            markers += question.components(separatedBy: Conversation.imageMarker).count - 1
            let answer = try Conversation.message(messages[i + 1], from: "gpt", index: i + 1)
            return ConversationTurn(question: Conversation.removingMarker(question), answer: answer)
        }
        // An entry with an image may leave the marker out (LLaVA then puts the image first).
        guard markers <= (image == nil ? 0 : 1) else {
            throw EntryProblem(
                "\(markers) \(Conversation.imageMarker) marker(s) for \(image == nil ? "no" : "one") image")
        }
    }

    static func message(_ m: JSONRecord, from speaker: String, index: Int) throws -> String {
        do {
            let from = try m.string("from")
            guard from == speaker else { throw EntryProblem("is from \"\(from)\", expected \"\(speaker)\"") }
            return try m.string("value")
        } catch let p as EntryProblem {
            throw EntryProblem("conversations[\(index)] \(p.message)")
        }
    }

    /// LLaVA puts the marker on its own line before or after the question.
    static func removingMarker(_ question: String) -> String {
        question.replacingOccurrences(of: imageMarker, with: "").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
