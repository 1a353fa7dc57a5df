import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VLFiles
import VLImaging
import VLIO
import VLTensor

/// Writes samples of the built-in world in the standard dataset formats, so other tools (and the
/// loaders here) can read them: `images/<id>.png`, `captions.jsonl`, `llava.json` and `questions.jsonl`.
public enum WorldExport {
    public static let captionsFile = "captions.jsonl"
    public static let conversationsFile = "llava.json"
    public static let questionsFile = "questions.jsonl"

    /// Images first, then the JSON files (each written to a temporary file and renamed), so an
    /// interrupted run never leaves a half-written file nor an entry whose image is missing.
    /// `progress` gets the number of images written so far.
    public static func write(_ samples: [WorldSample], to folder: URL, progress: (Int) -> Void = { _ in }) throws {
        try makeFolder(folder.appendingPathComponent("images"))
        try writeImages(samples, to: folder, progress: progress)
        try writeFile(folder.appendingPathComponent(captionsFile), jsonLines(samples.map(captionRecord)))
        try writeFile(
            folder.appendingPathComponent(conversationsFile),
            json(samples.map(conversationRecord), pretty: true) + Data("\n".utf8))
        try writeFile(folder.appendingPathComponent(questionsFile), jsonLines(samples.flatMap(questionRecords)))
    }

    static func imagePath(_ sample: WorldSample) -> String { "images/\(sample.id).png" }

    static func captionRecord(_ s: WorldSample) -> [String: Any] { ["image": imagePath(s), "caption": s.caption] }

    /// The caption request first (answered by the caption), then one turn per question.
    static func conversationRecord(_ s: WorldSample) -> [String: Any] {
        let turns = [(WorldEvaluation.captionRequest, s.caption)] + s.questions.map { ($0.question, $0.answer) }
        let messages = turns.enumerated().flatMap { i, turn in
            [
                ["from": "human", "value": i == 0 ? "\(Conversation.imageMarker)\n\(turn.0)" : turn.0],
                ["from": "gpt", "value": turn.1],
            ]
        }
        return ["id": s.id, "image": imagePath(s), "conversations": messages]
    }

    static func questionRecords(_ s: WorldSample) -> [[String: Any]] {
        s.questions.map {
            ["image": imagePath(s), "question": $0.question, "answer": $0.answer, "type": $0.type.rawValue]
        }
    }

    /// Renders and writes the PNGs on all cores, a chunk at a time so progress can be reported.
    static func writeImages(_ samples: [WorldSample], to folder: URL, progress: (Int) -> Void) throws {
        let chunk = 64
        for start in stride(from: 0, to: samples.count, by: chunk) {
            let part = Array(samples[start..<min(start + chunk, samples.count)])
            var errors = [Error?](repeating: nil, count: part.count)
            errors.withUnsafeMutableBufferPointer { out in
                Parallel.forRange(part.count) { range in
                    for i in range {
                        do {
                            try part[i].scene.render().writePNG(to: folder.appendingPathComponent(imagePath(part[i])))
                        } catch { out[i] = error }
                    }
                }
            }
            if let error = errors.lazy.compactMap({ $0 }).first { throw error }
            progress(start + part.count)
        }
    }

    /// Creates `folder` and its missing parents, with the system's reason when it cannot.
    static func makeFolder(_ folder: URL) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw DatasetError(folder, "is a file, not a folder") }
            return
        }
        try makeFolder(folder.deletingLastPathComponent())
        guard mkdir(folder.path, 0o755) == 0 || errno == EEXIST else {
            throw DatasetError(folder, "cannot create the folder: \(String(cString: strerror(errno)))")
        }
    }

    static func writeFile(_ file: URL, _ data: Data) throws {
        do { try writeAtomically(data, to: file) } catch let e as FileWriteError {
            throw DatasetError(file, "cannot write: \(e.reason)")
        }
    }

    static func json(_ value: Any, pretty: Bool = false) throws -> Data {
        try JSONSerialization.data(
            withJSONObject: value,
            options: pretty
                ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
                : [.sortedKeys, .withoutEscapingSlashes])
    }

    static func jsonLines(_ records: [[String: Any]]) throws -> Data {
        var out = Data()
        for r in records {
            out += try json(r)
            out += Data("\n".utf8)
        }
        return out
    }
}
