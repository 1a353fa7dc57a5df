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
