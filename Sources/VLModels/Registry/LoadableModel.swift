import Foundation
import VLFiles
import VLIO
import VLNN

/// What `vlkit models` says about a model: its architecture and what it can do.
public struct ModelDescription {
    public let modelTypes: String
    public let architecture: String
    public let inference: String
    public let training: String
    public let commands: String

    public init(modelTypes: String, architecture: String, inference: String, training: String, commands: String) {
        (self.modelTypes, self.architecture, self.inference, self.training, self.commands) =
            (modelTypes, architecture, inference, training, commands)
    }
}

/// A model that loads from a Hugging Face directory: what one model folder registers (one entry in
/// `ModelRegistry.models`). It says which `model_type` values it reads, builds itself from the
/// directory's config and loads its weights by name.
public protocol LoadableModel: Module {
    /// The `config.json` `model_type` values this model reads.
    static var modelTypes: [String] { get }
    /// `architectures` entries that select this model when `model_type` is missing.
    static var architectures: [String] { get }
    /// One or more rows for `vlkit models`.
    static var descriptions: [ModelDescription] { get }
    /// The model with the directory's weights (strict: every missing, unexpected and mis-shaped key at once).
    static func load(from directory: ModelDirectory, format: WeightFormat) throws -> Self
}

extension LoadableModel {
    public static var architectures: [String] { [] }

    /// Opens `directory` (or a GGUF file) and loads it as this model; another model type is an error naming both.
    public static func load(directory: URL, format: WeightFormat = .f32) throws -> Self {
        try load(ModelRegistry.open(directory), format: format)
    }

    /// Loads an already opened directory as this model; another model type is an error naming both.
    public static func load(_ directory: ModelDirectory, format: WeightFormat = .f32) throws -> Self {
        let found = try ModelRegistry.modelClass(for: directory)
        guard found == Self.self else {
            throw ConfigError(
                "\(directory.configPath): model_type is \"\(directory.modelType)\"; this needs "
                    + modelTypes.joined(separator: " or "))
        }
        let model = try Init.skipping { try load(from: directory, format: format) }
        model.eval()
        return model
    }
}
