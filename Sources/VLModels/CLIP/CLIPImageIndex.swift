import Foundation
import VLImaging
import VLIO
import VLTensor

/// Embeddings of a folder of images, kept in a safetensors file beside it and brought up to date
/// incrementally: only new or changed files (by size and modification time) are embedded again.
public struct CLIPImageIndex {
    public struct Entry: Codable, Equatable {
        public let path: String  // relative to the folder
        public let size: Int
        public let modified: Double
    }

    public private(set) var entries: [Entry] = []
    /// Files that could not be embedded; skipped until they change.
    public private(set) var failed: [Entry] = []
    /// [entries, projectionDim], normalised.
    public private(set) var embeddings: Tensor?
    /// Identifies the model that made the embeddings (a different model invalidates the index).
    public let modelKey: String

    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    /// The index at `url` when it was made by the same model, else an empty one.
    public init(url: URL, modelKey: String) {
        self.modelKey = modelKey
        guard let file = try? SafetensorsFile(path: url.path), file.metadata["model"] == modelKey,
            let json = file.metadata["entries"]?.data(using: .utf8),
            let stored = try? JSONDecoder().decode([Entry].self, from: json),
            let e = try? file.tensor("embeddings"), e.shape.first == stored.count
        else { return }
        entries = stored
        embeddings = e.clone()
        if let f = file.metadata["failed"]?.data(using: .utf8),
            let list = try? JSONDecoder().decode([Entry].self, from: f)
        {
            failed = list
        }
    }

    /// A key for a model directory: its path and the size and date of its weights.
    public static func modelKey(for directory: URL) -> String {
        let fm = FileManager.default
        let files = ((try? fm.contentsOfDirectory(atPath: directory.path)) ?? []).filter {
            $0.hasSuffix(".safetensors")
        }.sorted()
        let stamps = files.map { name -> String in
            let a = try? fm.attributesOfItem(atPath: directory.appendingPathComponent(name).path)
            return "\(name):\((a?[.size] as? Int) ?? 0):\((a?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
        }
        return directory.standardizedFileURL.path + "|" + stamps.joined(separator: ",")
    }

    /// Image files under `folder` (recursively) with their size and date, sorted by path.
    public static func scan(_ folder: URL) throws -> [Entry] {
        let fm = FileManager.default
        guard
            let walker = fm.enumerator(
                at: folder, includingPropertiesForKeys: [.fileSizeKey, .contentModificationDateKey, .isRegularFileKey],
                options: [.skipsHiddenFiles])
        else {
            throw ImageError("\(folder.path): cannot list the folder")
        }
        var found: [Entry] = []
        let base = folder.standardizedFileURL.path
        for case let url as URL in walker where imageExtensions.contains(url.pathExtension.lowercased()) {
            let v = try url.resourceValues(forKeys: [.fileSizeKey, .contentModificationDateKey, .isRegularFileKey])
            guard v.isRegularFile == true else { continue }
            var rel = url.standardizedFileURL.path
            if rel.hasPrefix(base + "/") { rel.removeFirst(base.count + 1) }
            found.append(
                Entry(path: rel, size: v.fileSize ?? 0, modified: v.contentModificationDate?.timeIntervalSince1970 ?? 0)
            )
        }
        return found.sorted { $0.path < $1.path }
    }

    /// Brings the index up to date with `current` files: keeps unchanged embeddings, embeds the rest
    /// with `embed` (which returns nil for a file it skips). Returns how many were embedded.
    public mutating func update(to current: [Entry], embed: ([Entry]) -> [(Entry, Tensor?)]) -> Int {
        var known: [String: (Entry, Int)] = [:]
        for (i, e) in entries.enumerated() { known[e.path] = (e, i) }
        var keptRows: [Tensor] = [], keptEntries: [Entry] = []
        var missing: [Entry] = []
        let knownFailures = Set(failed.map { "\($0.path)|\($0.size)|\($0.modified)" })
        var stillFailed: [Entry] = []
        for e in current {
            if knownFailures.contains("\(e.path)|\(e.size)|\(e.modified)") {
                stillFailed.append(e)
            } else if let (old, row) = known[e.path], old == e, let emb = embeddings {
                keptEntries.append(e)
                keptRows.append(emb.select(0, row))
            } else {
                missing.append(e)
            }
        }
        var embedded = 0
        for (e, vector) in embed(missing) {
            guard let vector else {
                stillFailed.append(e)
                continue
            }
            keptEntries.append(e)
            keptRows.append(vector)
            embedded += 1
        }
        let order = keptEntries.indices.sorted { keptEntries[$0].path < keptEntries[$1].path }
        entries = order.map { keptEntries[$0] }
        failed = stillFailed
        embeddings = keptRows.isEmpty ? nil : stack(order.map { keptRows[$0] }, dim: 0)
        return embedded
    }

    /// Writes the index atomically.
    public func save(to url: URL) throws {
        let json = String(data: try JSONEncoder().encode(entries), encoding: .utf8)!
        var tensors: [String: Tensor] = [:]
        if let embeddings { tensors["embeddings"] = embeddings }
        let failures = String(data: try JSONEncoder().encode(failed), encoding: .utf8)!
        try writeSafetensors(tensors, metadata: ["model": modelKey, "entries": json, "failed": failures], to: url)
    }

    /// The `top` entries most similar to a normalised query embedding, best first.
    public func search(_ query: Tensor, top: Int) -> [(entry: Entry, score: Float)] {
        guard let embeddings else { return [] }
        let scores = matmul(embeddings, query.reshape([-1])).toArray()
        return scores.indices.sorted { scores[$0] > scores[$1] }.prefix(top).map { (entries[$0], scores[$0]) }
    }
}
