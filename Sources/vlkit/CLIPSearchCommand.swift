import ArgumentParser
import Foundation
import VLImaging
import VLIO
import VLNN
import VLModels
import VLTraining
import VLTensor

extension CLIPCommand {
    struct Search: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Rank a folder of images by similarity to a text; embeddings are kept in an index file and only new or changed images are embedded again."
        )
        @OptionGroup var options: CLIPModelOptions
        @Option(help: "The folder of images (searched recursively for .jpg, .jpeg, .png).") var images: String
        @Option(help: "What to look for.") var query: String
        @Option(help: "How many results.") var top = 5
        @Option(help: "The index file (default: IMAGES/.vlkit-clip-index.safetensors).") var index: String?
        @Option(help: "Images embedded per batch.") var batchSize = 16
        @Flag(help: "Print JSON.") var json = false
        @Flag(help: "No progress bar.") var quiet = false

        func validate() throws {
            guard top > 0 else { throw ValidationError("--top must be positive") }
            guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        }

        func run() throws {
            let folder = URL(fileURLWithPath: images)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue
            else {
                throw ImageError("\(folder.path): no such folder")
            }
            let pipeline = try options.load()
            let indexURL =
                index.map { URL(fileURLWithPath: $0) } ?? folder.appendingPathComponent(".vlkit-clip-index.safetensors")
            var store = CLIPImageIndex(url: indexURL, modelKey: CLIPImageIndex.modelKey(for: pipeline.directory))
            let current = try CLIPImageIndex.scan(folder)
            let embedded = store.update(to: current) { missing in
                let bar = quiet || missing.isEmpty ? nil : ProgressBar(total: missing.count, label: "embedding")
                var results: [(CLIPImageIndex.Entry, Tensor?)] = []
                for start in stride(from: 0, to: missing.count, by: batchSize) {
                    let batch = Array(missing[start..<Swift.min(start + batchSize, missing.count)])
                    var ok: [(CLIPImageIndex.Entry, RGBImage)] = []
                    for e in batch {
                        do {
                            ok.append(
                                (
                                    e,
                                    try RGBImage(
                                        contentsOf: folder.appendingPathComponent(e.path), maxPixels: options.maxPixels)
                                ))
                        } catch {
                            warn("skipping \(error)")
                            results.append((e, nil))
                        }
                    }
                    if !ok.isEmpty {
                        let vectors = pipeline.imageEmbeddings(ok.map(\.1))
                        for (i, (e, _)) in ok.enumerated() { results.append((e, vectors.select(0, i).clone())) }
                    }
                    bar?.update(step: start + batch.count)
                }
                bar?.finish()
                return results
            }
            try store.save(to: indexURL)
            let hits = store.search(pipeline.textEmbeddings([query]), top: top)
            if json {
                printJSON([
                    "results": hits.map { ["path": $0.entry.path, "score": Double($0.score)] as [String: Any] },
                    "embedded": embedded, "indexed": store.entries.count, "unreadable": store.failed.count,
                ])
                return
            }
            if !quiet {
                note(
                    "\(store.entries.count) images indexed (\(embedded) embedded now, \(store.failed.count) unreadable)"
                )
            }
            for hit in hits { print(String(format: "%.4f  %@", hit.score, hit.entry.path)) }
        }
    }
}
