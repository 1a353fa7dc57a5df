import ArgumentParser
import Foundation
import VLImaging
import VLIO
import VLNN
import VLModels
import VLTraining
import VLTensor

extension CLIPCommand {
    struct Embed: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Image and text embeddings (L2-normalised) and logits_per_image, as transformers' CLIPModel.")
        @OptionGroup var options: CLIPModelOptions
        @Option(name: .customLong("image"), help: "An image file (repeatable).") var images: [String] = []
        @Option(name: .customLong("text"), help: "A text (repeatable).") var texts: [String] = []
        @Flag(help: "Print JSON: image_embeds, text_embeds, logits_per_image.") var json = false

        func validate() throws {
            guard !images.isEmpty || !texts.isEmpty else {
                throw ValidationError("give at least one --image or --text")
            }
        }

        func run() throws {
            let pipeline = try options.load()
            let decoded = try images.map {
                try RGBImage(contentsOf: URL(fileURLWithPath: $0), maxPixels: options.maxPixels)
            }
            let imageEmbeds = decoded.isEmpty ? nil : pipeline.imageEmbeddings(decoded)
            let textEmbeds = texts.isEmpty ? nil : pipeline.textEmbeddings(texts)
            var logits: Tensor?
            if let imageEmbeds, let textEmbeds {
                logits = pipeline.logitsPerImage(imageEmbeds: imageEmbeds, textEmbeds: textEmbeds)
            }
            if json {
                var object: [String: Any] = [:]
                if let imageEmbeds { object["image_embeds"] = rows(imageEmbeds) }
                if let textEmbeds { object["text_embeds"] = rows(textEmbeds) }
                if let logits { object["logits_per_image"] = rows(logits) }
                printJSON(object)
                return
            }
            for (name, e) in zip(images, imageEmbeds.map(rows) ?? []) { print("image \(name): \(preview(e))") }
            for (text, e) in zip(texts, textEmbeds.map(rows) ?? []) {
                print("text \(text.debugDescription): \(preview(e))")
            }
            if let logits {
                print("logits_per_image:")
                for (name, row) in zip(images, rows(logits)) {
                    print("  \(name): " + row.map { String(format: "%.4f", $0) }.joined(separator: "  "))
                }
            }
        }

        private func preview(_ v: [Float]) -> String {
            "[" + v.prefix(6).map { String(format: "%.4f", $0) }.joined(separator: ", ")
                + (v.count > 6 ? ", …] (\(v.count))" : "]")
        }
    }
}
