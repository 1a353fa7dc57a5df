import Foundation
import VLImaging
import VLTensor

/// The kinds of dataset file a recipe can train on (`data.llava_json`, `data.captions`, `data.interleaved`).
public enum DataKind: String, CaseIterable, Sendable {
    case llavaJSON = "llava_json", captions, interleaved

    /// What such a file holds, for error messages.
    public var what: String {
        switch self {
        case .llavaJSON: return "LLaVA conversation JSON"
        case .captions: return "image–caption JSONL"
        case .interleaved: return "interleaved documents JSONL"
        }
    }
}

/// Images a recipe trains on, by row: dataset files (decoded when needed) or world scenes (rendered).
public struct TrainingImages {
    enum Storage {
        case files([URL])
        case scenes([Scene])
    }

    let storage: Storage
    let maxPixels: Int

    init(_ storage: Storage, maxPixels: Int = RGBImage.defaultMaxPixels) {
        (self.storage, self.maxPixels) = (storage, maxPixels)
    }

    public var count: Int {
        switch storage {
        case .files(let f): return f.count
        case .scenes(let s): return s.count
        }
    }

    /// Image `row`, decoded or rendered.
    public func image(_ row: Int) throws -> RGBImage {
        switch storage {
        case .files(let files): return try RGBImage(contentsOf: files[row], maxPixels: maxPixels)
        case .scenes(let scenes): return scenes[row].render()
        }
    }

    /// Pixels [rows.count, 3, H, W] of `rows`, as `processor` prepares them.
    public func pixels(_ rows: [Int], processor: ImageProcessor) throws -> Tensor {
        processor.batch(try rows.map(image))
    }

    /// `encode` (without gradients) of every image's pixels, a chunk of `chunk` images at a time,
    /// the chunks decoded ahead on all cores by a `Prefetcher`: for frozen towers, whose outputs
    /// are computed once. The results are concatenated along the first dimension.
    public func encoded(processor: ImageProcessor, chunk: Int = 256, _ encode: (Tensor) -> Tensor) throws -> Tensor {
        precondition(count > 0, "no images to encode")
        let chunks = stride(from: 0, to: count, by: chunk).map { Array($0..<min($0 + chunk, count)) }
        let loader = Prefetcher(count: chunks.count, depth: Parallel.threadCount, threads: Parallel.threadCount) {
            [self] i in
            try pixels(chunks[i], processor: processor)
        }
        var parts: [Tensor] = []
        while let pixels = try loader.next() { parts.append(noGrad { encode(pixels).contiguous() }) }
        return parts.count == 1 ? parts[0] : cat(parts, dim: 0)
    }

    /// Pixels of any rows, a batch at a time: from a table of every image's pixels made once when
    /// it fits in `memory` bytes (the world's 64-pixel scenes do), else decoded batch by batch.
    public func pixelSource(processor: ImageProcessor, memory: Int = 1 << 30) throws -> ([Int]) throws -> Tensor {
        guard count * 3 * processor.cropHeight * processor.cropWidth * MemoryLayout<Float>.size <= memory else {
            return { try self.pixels($0, processor: processor) }
        }
        let table = try table(processor: processor)
        return { table.indexSelect(0, $0) }
    }

    /// Every image's pixels [count, 3, H, W].
    public func table(processor: ImageProcessor) throws -> Tensor { try encoded(processor: processor) { $0 } }

    /// These images followed by `more`'s (both of the same storage).
    func appending(_ more: TrainingImages) -> TrainingImages {
        switch (storage, more.storage) {
        case (.scenes(let a), .scenes(let b)): return TrainingImages(.scenes(a + b), maxPixels: maxPixels)
        case (.files(let a), .files(let b)): return TrainingImages(.files(a + b), maxPixels: maxPixels)
        default: preconditionFailure("cannot join world scenes and image files")
        }
    }
}

/// One exchange about an image: the question (or caption request) and its answer.
public struct ImageTurn: Equatable, Sendable {
    /// The image's row in `TrainingData.images`.
    public var image: Int
    public var question: String
    public var answer: String
}

/// An image and a text about it (a caption).
public struct ImageText: Equatable, Sendable {
    public var image: Int
    public var text: String
}

/// A document of images and text: `text` has one `<image>` marker per entry of `images`, in order.
public struct ImageDocument: Equatable, Sendable {
    public var images: [Int]
    public var text: String
}

/// What a recipe trains on, wherever it comes from: images by row and the texts about them. The
/// built-in world is one source among the dataset files: its scenes give captions, conversations
/// (the caption request, then one turn per question, as `WorldExport` writes them) and
/// interleaved documents, so the world and the files the world writes train through the same code.
public struct TrainingData {
    /// The file kind; nil for the world.
    public let kind: DataKind?
    public let images: TrainingImages
    /// Image–caption pairs (the world's, or a captions file's).
    public let captions: [ImageText]
    /// Conversations, each of one image, in order (the world's, a LLaVA file's, or a captions file's
    /// captions as caption requests).
    public let conversations: [[ImageTurn]]
    /// Interleaved documents (the world's, made from its scenes, or an interleaved file's).
    public let documents: [ImageDocument]
    /// The world's scenes, row for row with `images`; empty for files.
    public let scenes: [WorldSample]
    /// Extra rows that are each a hard negative of another (`hardNegatives[row]`): the world's shape twins.
    public let hardNegatives: [Int: Int]
    /// "4000 world scenes", "/data/llava.json (812 conversations)".
    public let summary: String

    public var isWorld: Bool { kind == nil }

    /// Every turn of every conversation, in order: what instruction tuning trains on.
    public var turns: [ImageTurn] { conversations.flatMap { $0 } }

    /// What a captioning stage trains on: the captions as caption requests — or, for a LLaVA file,
    /// its turns as written (LLaVA's stage-1 data is conversations of one caption request each).
    public var captionTurns: [ImageTurn] {
        kind == .llavaJSON
            ? turns
            : captions.map { ImageTurn(image: $0.image, question: WorldEvaluation.captionRequest, answer: $0.text) }
    }
}

extension TrainingData {
    /// Scenes per world document (`documents`), each followed by its text.
    public static let imagesPerDocument = 3

    /// The world's `samples` as training data. Its documents are one per scene: document i holds
    /// `imagesPerDocument` scenes drawn with a generator of (`seed`, i), all with their captions or
    /// all with one of their questions and its answer.
    public static func world(_ samples: [WorldSample], seed: UInt64 = 0) -> TrainingData {
        let captions = samples.indices.map { ImageText(image: $0, text: samples[$0].caption) }
        let conversations = samples.indices.map { i in
            [ImageTurn(image: i, question: WorldEvaluation.captionRequest, answer: samples[i].caption)]
                + samples[i].questions.map { ImageTurn(image: i, question: $0.question, answer: $0.answer) }
        }
        let documents =
            samples.isEmpty
            ? []
            : samples.indices.map { d -> ImageDocument in
                var rng = RandomGenerator(seed: seed &* 0x5851_F42D_4C95_7F2D &+ 0xD0C &+ UInt64(d))
                let captioned = rng.nextInt(2) == 0
                let rows = (0..<imagesPerDocument).map { _ in rng.nextInt(samples.count) }
                let texts = rows.map { i -> String in
                    let s = samples[i]
                    guard !captioned, !s.questions.isEmpty else { return s.caption }
                    return FlamingoPretraining.questionAndAnswer(s.questions[rng.nextInt(s.questions.count)])
                }
                return ImageDocument(
                    images: rows,
                    text: texts.map { InterleavedDocument.imageMarker + $0 + InterleavedDocument.endOfChunk }.joined())
            }
        return TrainingData(
            kind: nil, images: TrainingImages(.scenes(samples.map(\.scene))), captions: captions,
            conversations: conversations,
            documents: documents, scenes: samples, hardNegatives: [:], summary: "\(samples.count) world scenes")
    }

    /// These data with a shape-changed twin of each world scene that has one appended (rows after
    /// the scenes), each a hard negative of its scene, so that colour alone never separates a
    /// contrastive batch. Files have no twins: they come back as they are.
    public func withShapeTwins(imageSize: Int, seed: UInt64) -> TrainingData {
        guard isWorld else { return self }
        var rng = RandomGenerator(seed: seed &+ 0x7717)
        let world = World(imageSize: imageSize)
        let pairs = scenes.enumerated().compactMap { i, s in world.shapeTwin(of: s, rng: &rng).map { (i, $0) } }
        let twins = Dictionary(uniqueKeysWithValues: pairs.enumerated().map { ($1.0, scenes.count + $0) })
        let twinCaptions = pairs.enumerated().map { ImageText(image: scenes.count + $0, text: $1.1.caption) }
        return TrainingData(
            kind: kind, images: images.appending(TrainingImages(.scenes(pairs.map(\.1.scene)))),
            captions: captions + twinCaptions,
            conversations: conversations, documents: documents, scenes: scenes + pairs.map(\.1), hardNegatives: twins,
            summary: summary + " and \(pairs.count) shape twins")
    }
}

extension TrainingData {
    /// A dataset file of `kind`, its image paths relative to `imageFolder` (the file's folder by
    /// default). Errors name `field` ("data.llava_json"): a missing or unreadable file, a file that
    /// holds another kind of dataset, a missing image folder, and the loaders' own errors (in
    /// strict mode, the first bad entry with its line). Skipped entries are summarised through `options.warn`.
    public static func load(
        _ kind: DataKind, file: URL, imageFolder: URL? = nil, options: LoadOptions = LoadOptions(),
        field: String
    ) throws -> TrainingData {
        func named<T>(_ body: () throws -> T) throws -> T {
            do { return try body() } catch let e as DatasetError { throw RecipeError("\"\(field)\": \(e)") }
        }
        if let imageFolder {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: imageFolder.path, isDirectory: &isFolder) else {
                throw RecipeError("\"data.images\": \(imageFolder.path): no such folder")
            }
            guard isFolder.boolValue else {
                throw RecipeError("\"data.images\": \(imageFolder.path) is a file, not a folder of images")
            }
        }
        if let found = DataKind.sniff(file), found != kind {
            throw RecipeError(
                "\"\(field)\": \(file.path) holds \(found.what), not \(kind.what) (is it \"data.\(found.rawValue)\"?)")
        }
        var rows: [URL: Int] = [:], files: [URL] = []
        func row(_ url: URL) -> Int {
            if let r = rows[url] { return r }
            rows[url] = files.count
            files.append(url)
            return files.count - 1
        }
        let maxPixels = options.maxPixels
        switch kind {
        case .captions:
            let d = try named { try Dataset.captions(file, imageFolder: imageFolder, options: options) }
            let captions = d.entries.map { ImageText(image: row($0.image), text: $0.caption) }
            let turns = captions.map {
                [ImageTurn(image: $0.image, question: WorldEvaluation.captionRequest, answer: $0.text)]
            }
            return TrainingData(
                kind: kind, images: TrainingImages(.files(files), maxPixels: maxPixels), captions: captions,
                conversations: turns,
                documents: [], scenes: [], hardNegatives: [:],
                summary: "\(file.path) (\(captions.count) captions of \(files.count) images)")
        case .llavaJSON:
            let d = try named { try Dataset.conversations(file, imageFolder: imageFolder, options: options) }
            let withImage = d.entries.filter { $0.image != nil }
            if withImage.count < d.entries.count {
                options.warn(
                    "\(file.path): \(d.entries.count - withImage.count) of \(d.entries.count) conversations have no image and are left out"
                )
            }
            guard !withImage.isEmpty else {
                throw RecipeError("\"\(field)\": \(file.path): no conversation has an image")
            }
            let conversations = withImage.map { c in
                c.turns.map { ImageTurn(image: row(c.image!), question: $0.question, answer: $0.answer) }
            }
            return TrainingData(
                kind: kind, images: TrainingImages(.files(files), maxPixels: maxPixels), captions: [],
                conversations: conversations, documents: [], scenes: [], hardNegatives: [:],
                summary: "\(file.path) (\(conversations.count) conversations of \(files.count) images)")
        case .interleaved:
            let d = try named { try Dataset.interleaved(file, imageFolder: imageFolder, options: options) }
            let documents = d.entries.map { ImageDocument(images: $0.images.map(row), text: $0.text) }
            return TrainingData(
                kind: kind, images: TrainingImages(.files(files), maxPixels: maxPixels), captions: [],
                conversations: [],
                documents: documents, scenes: [], hardNegatives: [:],
                summary: "\(file.path) (\(documents.count) documents of \(files.count) images)")
        }
    }
}

extension DataKind {
    /// The kind of dataset a file looks like from its start: a JSON array is LLaVA conversations;
    /// a first line that is an object with "images" is an interleaved document, with "image" and a
    /// caption an image–caption pair, with "conversations" a LLaVA entry. Nil when it cannot tell
    /// (the loader then gives its own error).
    static func sniff(_ file: URL) -> DataKind? {
        guard let handle = try? FileHandle(forReadingFrom: file) else { return nil }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 1 << 16), !head.isEmpty else { return nil }
        let text = String(decoding: head, as: UTF8.self)
        guard let first = text.first(where: { !$0.isWhitespace }) else { return nil }
        if first == "[" { return .llavaJSON }
        guard first == "{",
            let line = text.split(separator: "\n").first(where: { $0.contains(where: { !$0.isWhitespace }) }),
            let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        else { return nil }
        if object["conversations"] != nil { return .llavaJSON }
        if object["images"] != nil { return .interleaved }
        if object["image"] != nil && (object["caption"] != nil || object["text"] != nil) { return .captions }
        return nil
    }
}
