import Foundation

/// A Flamingo-style document: text with one `<image>` marker per image, in order, and
/// `<|endofchunk|>` closing the text that belongs to each image.
public struct InterleavedDocument: Equatable, Sendable {
    public var images: [URL]
    public var text: String

    public static let imageMarker = "<image>"
    public static let endOfChunk = "<|endofchunk|>"
}

extension Dataset where Entry == InterleavedDocument {
    /// Interleaved documents from JSONL, one `{"images": ["a.png", …], "text": "<image>… <|endofchunk|>…"}`
    /// a line; the number of `<image>` markers must equal the number of images.
    public static func interleaved(
        _ file: URL, imageFolder: URL? = nil, options: LoadOptions = LoadOptions()
    ) throws -> Dataset {
        let folder = imageFolder ?? file.deletingLastPathComponent()
        let validation = EntryValidation<InterleavedDocument>(
            file: file, options: options,
            parse: { record in
                try InterleavedDocument(record, folder: folder)
            }, images: \.images)
        return try validation.run(RawEntries.jsonLines(DatasetFile.text(of: file)))
    }
}

extension InterleavedDocument {
    init(_ record: JSONRecord, folder: URL) throws {
        let paths = try record.array("images", of: String.self, named: "a string")
        guard !paths.isEmpty else { throw EntryProblem("field \"images\" is empty") }
        images = paths.map { record.resolve($0, in: folder) }
        text = try record.string("text")
        let markers = text.components(separatedBy: Self.imageMarker).count - 1
        guard markers == images.count else {
            throw EntryProblem("\(markers) \(Self.imageMarker) marker(s) for \(images.count) image(s)")
        }
    }
}
