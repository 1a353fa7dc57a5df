import Foundation
import VLImaging
import VLIO
import VLModels
import VLNN

/// BLIP-2's stages as transformers directories: the vision tower (`Blip2VisionModel`), stage 1
/// (`Blip2ForImageTextRetrieval`, plus LAVIS's ITG head and temperature, which transformers
/// ignores and `Blip2ForImageTextRetrieval.load(_:trainingHeads: true)` reads) and stage 2
/// (`Blip2ForConditionalGeneration`).
extension HFExport {
    public static func write(_ model: Blip2VisionModel, processor: ImageProcessor, to directory: URL) throws {
        var config = model.config.jsonObject
        config["architectures"] = ["Blip2VisionModel"]
        try writeBlip2(model, config: config, processor: processor, to: directory)
    }

    public static func write(_ model: Blip2ForImageTextRetrieval, processor: ImageProcessor, to directory: URL) throws {
        try writeBlip2(
            model, config: model.config.jsonObject(architecture: "Blip2ForImageTextRetrieval"), processor: processor,
            to: directory)
    }

    public static func write(
        _ model: Blip2ForConditionalGeneration, processor: ImageProcessor, to directory: URL
    ) throws {
        try writeBlip2(
            model, config: model.config.jsonObject(architecture: "Blip2ForConditionalGeneration"), processor: processor,
            to: directory)
        if case .llama(let c) = model.config.text { try writeGenerationConfig(c, to: directory) }
    }

    private static func writeBlip2(
        _ model: Module, config: [String: Any], processor: ImageProcessor, to directory: URL
    ) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try writeWeights(model, to: directory)
        try writeJSON(config, to: directory.appendingPathComponent("config.json"))
        try writeJSON(processor.jsonObject, to: directory.appendingPathComponent("preprocessor_config.json"))
    }
}
