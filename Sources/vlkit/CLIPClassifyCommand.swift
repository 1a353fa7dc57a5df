import ArgumentParser
import Foundation
import VLImaging
import VLIO
import VLNN
import VLModels
import VLTraining
import VLTensor

extension CLIPCommand {
    struct Classify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Zero-shot classification: label probabilities, highest first.")
        @OptionGroup var options: CLIPModelOptions
        @Option(help: "The image file.") var image: String
        @Option(help: "Comma-separated labels, e.g. \"cat,dog,car\".") var labels: String
        @Option(help: "The prompt for each label; {} marks the label.") var template = "a photo of a {}."
        @Flag(help: "Print JSON.") var json = false

        var labelList: [String] {
            labels.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }

        func validate() throws {
            guard !labelList.isEmpty else { throw ValidationError("--labels has no labels") }
            guard template.contains("{}") else {
                throw ValidationError("--template must contain {} where the label goes")
            }
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
}
