import Foundation
import VLFiles
import VLIO

/// Every model VLKit loads, keyed by `model_type`. Adding a model is one folder and one entry here.
public enum ModelRegistry {
    public static let models: [any LoadableModel.Type] = [
        CLIPModel.self, LlamaForCausalLM.self, OPTForCausalLM.self, BertModel.self, LlavaForConditionalGeneration.self,
        Blip2ForConditionalGeneration.self, FlamingoForConditionalGeneration.self, ALBEF.self,
        MPlugOwlForConditionalGeneration.self, MiniGPT4.self,
    ]

    /// The `model_type` values VLKit loads.
    public static var modelTypes: [String] { models.flatMap { $0.modelTypes } }

    /// The model class for a directory: by `model_type`, else by `architectures`.
    public static func modelClass(for directory: ModelDirectory) throws -> any LoadableModel.Type {
        let type = directory.modelType
        if let m = models.first(where: { $0.modelTypes.contains(type) }) { return m }
        if type.isEmpty,
            let m = models.first(where: { !Set($0.architectures).isDisjoint(with: directory.architectures) })
        {
            return m
        }
        let found = type.isEmpty ? "no model_type" : "model_type \"\(type)\" is not supported"
        throw ConfigError("\(directory.configPath): \(found); supported: " + modelTypes.joined(separator: ", "))
    }

    /// Loads whatever model the directory holds.
    public static func load(_ directory: ModelDirectory, format: WeightFormat = .f32) throws -> any LoadableModel {
        try modelClass(for: directory).load(directory, format: format)
    }
}
