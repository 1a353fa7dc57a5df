import Foundation
import VLImaging
import VLIO
import VLModels
import VLNN

/// Writes trained models as Hugging Face directories (config.json, model.safetensors,
/// generation and preprocessor configs); tokenizer files are written beside them by the recipe.
public enum HFExport {
    public static func write(_ model: CLIPModel, processor: ImageProcessor, to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try writeWeights(model, to: directory)
        try writeJSON(model.config.jsonObject, to: directory.appendingPathComponent("config.json"))
        try writeJSON(processor.jsonObject, to: directory.appendingPathComponent("preprocessor_config.json"))
    }

    public static func write(_ model: LlamaForCausalLM, to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try writeWeights(model, to: directory)
        try writeJSON(model.config.jsonObject, to: directory.appendingPathComponent("config.json"))
        try writeGenerationConfig(model.config, to: directory)
    }

    public static func write(
        _ model: LlavaForConditionalGeneration, processor: ImageProcessor, to directory: URL
    ) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try writeWeights(model, to: directory)
        try writeJSON(model.config.jsonObject, to: directory.appendingPathComponent("config.json"))
        try writeJSON(processor.jsonObject, to: directory.appendingPathComponent("preprocessor_config.json"))
        try writeGenerationConfig(model.config.text, to: directory)
    }

    static func writeWeights(_ model: Module, to directory: URL) throws {
        try writeSafetensors(
            model.stateDict(includingAdapters: false), metadata: ["format": "pt"],
            to: directory.appendingPathComponent("model.safetensors"))
    }

    static func writeGenerationConfig(_ c: LlamaConfig, to directory: URL) throws {
        var o: [String: Any] = [
            "eos_token_id": c.eosTokenIds.count == 1 ? c.eosTokenIds[0] as Any : c.eosTokenIds as Any
        ]
        o["bos_token_id"] = c.bosTokenId
        o["pad_token_id"] = c.padTokenId
        try writeJSON(o, to: directory.appendingPathComponent("generation_config.json"))
    }
}
