import Foundation

/// An image and its caption.
public struct ImageCaption: Equatable, Sendable {
    public var image: URL
    public var caption: String
}

extension Dataset where Entry == ImageCaption {
    /// Image–caption pairs from JSONL, one `{"image": "path", "caption": "…"}` a line (`"text"` is
    /// accepted for the caption); image paths are relative to `imageFolder` (the file's folder by default).
    public static func captions(
        _ file: URL, imageFolder: URL? = nil, options: LoadOptions = LoadOptions()
    ) throws -> Dataset {
        let folder = imageFolder ?? file.deletingLastPathComponent()
        let validation = EntryValidation<ImageCaption>(
            file: file, options: options,
            parse: { record in
                ImageCaption(
                    image: try record.imagePath("image", in: folder),
                    caption: try record.string(oneOf: ["caption", "text"]))
            }, images: { [$0.image] })
        return try validation.run(RawEntries.jsonLines(DatasetFile.text(of: file)))
    }
}

extension JSONRecord {
    /// A path field resolved against the dataset's folder (absolute paths stay as they are).
    func imagePath(_ key: String, in folder: URL) throws -> URL {
        resolve(try string(key), in: folder)
    }

    func resolve(_ path: String, in folder: URL) -> URL {
        (path.hasPrefix("/") ? URL(fileURLWithPath: path) : folder.appendingPathComponent(path)).standardizedFileURL
    }
}
