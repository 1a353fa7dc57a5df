import ArgumentParser
import Foundation
import VLImaging
import VLIO
import VLNN
import VLModels
import VLTraining
import VLTensor

struct CLIPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clip", abstract: "Embed, classify and search images with a CLIP model.",
        subcommands: [Embed.self, Classify.self, Search.self, Capture.self])
}

/// Options every CLIP command takes.
struct CLIPModelOptions: ParsableArguments {
    @Option(help: "A Hugging Face CLIP directory (config.json, weights, tokenizer and preprocessor files).")
    var model: String
    @Option(help: "Refuse images with more pixels than this (checked before decoding).")
    var maxPixels = RGBImage.defaultMaxPixels

    func load() throws -> CLIPPipeline { try CLIPPipeline(directory: URL(fileURLWithPath: model)) }
}

extension CLIPCommand {
    struct Embed: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Image and text embeddings (L2-normalised) and logits_per_image, as transformers' CLIPModel.")
        @OptionGroup var options: CLIPModelOptions
        @Option(name: .customLong("image"), help: "An image file (repeatable).") var images: [String] = []
        @Option(name: .customLong("text"), help: "A text (repeatable).") var texts: [String] = []
        @Flag(help: "Print JSON: image_embeds, text_embeds, logits_per_image.") var json = false

        func validate() throws {
            guard !images.isEmpty || !texts.isEmpty else { throw ValidationError("give at least one --image or --text") }
        }

        func run() throws {
            let pipeline = try options.load()
            let decoded = try images.map { try RGBImage(contentsOf: URL(fileURLWithPath: $0), maxPixels: options.maxPixels) }
            let imageEmbeds = decoded.isEmpty ? nil : pipeline.imageEmbeddings(decoded)
            let textEmbeds = texts.isEmpty ? nil : pipeline.textEmbeddings(texts)
            var logits: Tensor?
            if let imageEmbeds, let textEmbeds { logits = pipeline.logitsPerImage(imageEmbeds: imageEmbeds, textEmbeds: textEmbeds) }
            if json {
                var object: [String: Any] = [:]
                if let imageEmbeds { object["image_embeds"] = rows(imageEmbeds) }
                if let textEmbeds { object["text_embeds"] = rows(textEmbeds) }
                if let logits { object["logits_per_image"] = rows(logits) }
                printJSON(object)
                return
            }
            for (name, e) in zip(images, imageEmbeds.map(rows) ?? []) { print("image \(name): \(preview(e))") }
            for (text, e) in zip(texts, textEmbeds.map(rows) ?? []) { print("text \(text.debugDescription): \(preview(e))") }
            if let logits {
                print("logits_per_image:")
                for (name, row) in zip(images, rows(logits)) {
                    print("  \(name): " + row.map { String(format: "%.4f", $0) }.joined(separator: "  "))
                }
            }
        }

        private func preview(_ v: [Float]) -> String {
            "[" + v.prefix(6).map { String(format: "%.4f", $0) }.joined(separator: ", ") + (v.count > 6 ? ", …] (\(v.count))" : "]")
        }
    }

    struct Classify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Zero-shot classification: label probabilities, highest first.")
        @OptionGroup var options: CLIPModelOptions
        @Option(help: "The image file.") var image: String
        @Option(help: "Comma-separated labels, e.g. \"cat,dog,car\".") var labels: String
        @Option(help: "The prompt for each label; {} marks the label.") var template = "a photo of a {}."
        @Flag(help: "Print JSON.") var json = false

        var labelList: [String] { labels.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

        func validate() throws {
            guard !labelList.isEmpty else { throw ValidationError("--labels has no labels") }
            guard template.contains("{}") else { throw ValidationError("--template must contain {} where the label goes") }
        }

        func run() throws {
            let pipeline = try options.load()
            let picture = try RGBImage(contentsOf: URL(fileURLWithPath: image), maxPixels: options.maxPixels)
            let ranked = pipeline.classify(picture, labels: labelList, template: template)
            if json {
                printJSON(["labels": ranked.map(\.label), "probabilities": ranked.map { Double($0.probability) }])
                return
            }
            for (label, p) in ranked { print(String(format: "%6.2f%%  %@", Double(p) * 100, label)) }
        }
    }

    struct Search: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rank a folder of images by similarity to a text; embeddings are kept in an index file and only new or changed images are embedded again.")
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
            guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ImageError("\(folder.path): no such folder")
            }
            let pipeline = try options.load()
            let indexURL = index.map { URL(fileURLWithPath: $0) } ?? folder.appendingPathComponent(".vlkit-clip-index.safetensors")
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
                            ok.append((e, try RGBImage(contentsOf: folder.appendingPathComponent(e.path), maxPixels: options.maxPixels)))
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
                printJSON(["results": hits.map { ["path": $0.entry.path, "score": Double($0.score)] as [String: Any] },
                           "embedded": embedded, "indexed": store.entries.count, "unreadable": store.failed.count])
                return
            }
            if !quiet {
                note("\(store.entries.count) images indexed (\(embedded) embedded now, \(store.failed.count) unreadable)")
            }
            for hit in hits { print(String(format: "%.4f  %@", hit.score, hit.entry.path)) }
        }
    }
}

extension CLIPCommand {
    struct Capture: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the inputs and every layer's activations to safetensors, to compare with transformers "
                + "(tools/debug/compare_activations.py finds the first layer that diverges).")
        @OptionGroup var options: CLIPModelOptions
        @Option(help: "The image file.") var image: String
        @Option(help: "The text.") var text: String
        @Option(help: "Where to write the activations.") var out: String
        @Option(help: "Only module paths containing this text.") var filter: String?

        func run() throws {
            let pipeline = try options.load()
            let picture = try RGBImage(contentsOf: URL(fileURLWithPath: image), maxPixels: options.maxPixels)
            let pixels = pipeline.processor.batch([picture])
            let (ids, mask) = pipeline.tokenizer([text], padTo: Swift.min(pipeline.tokenizer.encode(text).count, pipeline.tokenizer.maxLength))
            let idTensor = Tensor(ints: ids[0], shape: [1, ids[0].count])
            let maskTensor = Tensor(ints: mask[0], shape: [1, mask[0].count])
            let capture = ActivationCapture { name in filter.map { name.contains($0) } ?? true }
            capture.run(on: pipeline.model) {
                _ = noGrad { pipeline.model(pixels: pixels, ids: idTensor, attentionMask: maskTensor.to(.f32)) }
            }
            var tensors: [String: Tensor] = ["input.pixel_values": pixels, "input.input_ids": idTensor, "input.attention_mask": maskTensor]
            var order: [String] = []
            for (name, t) in capture.byName() { tensors["act." + name] = t }
            var seen: [String: Int] = [:]
            for (name, _) in capture.activations {
                let n = seen[name, default: 0]
                order.append(n == 0 ? name : "\(name)#\(n)")
                seen[name] = n + 1
            }
            let orderJSON = String(data: try JSONSerialization.data(withJSONObject: order), encoding: .utf8)!
            try writeSafetensors(tensors, metadata: ["order": orderJSON], to: URL(fileURLWithPath: out))
            note("wrote \(order.count) activations to \(out)")
        }
    }
}

/// The rows of a 2-D tensor.
func rows(_ t: Tensor) -> [[Float]] {
    let values = t.toArray(), n = t.shape.last ?? 1
    return stride(from: 0, to: values.count, by: n).map { Array(values[$0..<$0 + n]) }
}

func printJSON(_ object: Any) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    print(String(data: data, encoding: .utf8)!)
}

func warn(_ message: String) { note("warning: " + message) }

/// A line on stderr (progress and diagnostics never mix with the results on stdout).
func note(_ message: String) { FileHandle.standardError.write((message + "\n").data(using: .utf8)!) }
