import Foundation

/// A visual question with its answer and (optionally) its kind, for VQA evaluation.
public struct VisualQuestion: Equatable, Sendable {
    public var image: URL
    public var question: String
    public var answer: String
    public var type: String?
}

extension Dataset where Entry == VisualQuestion {
    /// Questions from JSONL, one `{"image", "question", "answer", "type"}` a line (`type` optional).
    public static func questions(
        _ file: URL, imageFolder: URL? = nil, options: LoadOptions = LoadOptions()
    ) throws -> Dataset {
        let folder = imageFolder ?? file.deletingLastPathComponent()
        let validation = EntryValidation<VisualQuestion>(
            file: file, options: options,
            parse: { record in
                VisualQuestion(
                    image: try record.imagePath("image", in: folder), question: try record.string("question"),
                    answer: try record.string("answer"), type: record.has("type") ? try record.string("type") : nil)
            }, images: { [$0.image] })
        return try validation.run(RawEntries.jsonLines(DatasetFile.text(of: file)))
    }
}
