import Foundation
import VLImaging
import VLNN
import VLTensor

/// One kind of recipe: the name recipe files give it, what they may hold for it, and how it runs.
/// Adding a recipe is a type conforming to this (in a file of its own) and its entry in
/// `RecipeRegistry.recipes`; nothing else switches over recipe kinds.
public protocol TrainingRecipe {
    /// The name in recipe files (`"recipe": "llava-stage2"`).
    static var name: Recipe.Name { get }
    /// The training settings for what the recipe file's `training` leaves out.
    static var defaults: TrainingSettings { get }
    /// The dataset files it can train on instead of the built-in world (none: the world only).
    static var data: [DataKind] { get }
    /// The sections only some recipes read that this one does ("config", "vpgtrans").
    static var sections: Set<String> { get }
    /// Checks of the recipe's own fields beyond the common ones; errors name the field.
    static func validate(_ recipe: Recipe) throws
    /// Trains and writes `stage.output`.
    static func run(_ stage: RecipeStage) throws
}

extension TrainingRecipe {
    public static var data: [DataKind] { [] }
    public static var sections: Set<String> { [] }
    public static func validate(_ recipe: Recipe) throws {}
}

/// The table from recipe names to the code that runs them.
public enum RecipeRegistry {
    /// Every recipe, in the order `vlkit train --help` lists them.
    public static let recipes: [any TrainingRecipe.Type] = [
        CLIPRecipe.self, LanguageModelRecipe.self, LlavaStage1Recipe.self, LlavaStage2Recipe.self,
        FlamingoTrainingRecipe.self,
        ALBEFTrainingRecipe.self, MPlugOwlStage1Recipe.self, MPlugOwlStage2Recipe.self, Blip2VisionRecipe.self,
        Blip2Stage1Recipe.self, Blip2Stage2Recipe.self, MiniGPT4Recipe.self, VPGTransTrainingRecipe.self,
    ]

    static let byName: [Recipe.Name: any TrainingRecipe.Type] = Dictionary(
        uniqueKeysWithValues: recipes.map { ($0.name, $0) })

    public static var names: [String] { recipes.map { $0.name.rawValue } }

    /// The recipes that read an optional `section`.
    static func readers(of section: String) -> [String] {
        recipes.filter { $0.sections.contains(section) }.map { $0.name.rawValue }
    }

    static func validate(_ recipe: Recipe, with kind: any TrainingRecipe.Type) throws { try kind.validate(recipe) }

    /// The recipe of that name, if there is one.
    public static func recipe(named name: Recipe.Name) -> (any TrainingRecipe.Type)? { byName[name] }
}

/// What a recipe's `run` gets: the recipe and its settings, where it writes, the runner (progress,
/// resuming, logging) and its data — the world's scenes or the recipe's dataset file — loaded on demand.
public struct RecipeStage {
    public let runner: RecipeRunner
    public let recipe: Recipe
    public let settings: TrainingSettings
    public let output: URL
    /// The world models' image processor (the world's 64-pixel images, CLIP's normalisation).
    public let processor: ImageProcessor

    /// Whether the recipe trains on the built-in world (no `data`).
    public var onWorld: Bool { recipe.data?.file == nil }

    /// What the recipe trains on: the world's training scenes, or the recipe's dataset file.
    /// Recipes read it before loading their models, so a bad `data` fails first.
    public func data() throws -> TrainingData {
        guard let d = recipe.data, let (kind, path) = d.file else {
            return TrainingData.world(
                World().samples(.train, count: recipe.world.trainScenes, seed: recipe.world.seed),
                seed: recipe.world.seed)
        }
        if let validation = d.validation, !FileManager.default.fileExists(atPath: validation) {
            throw RecipeError("\"data.validation\": \(validation): no such file")
        }
        let data = try TrainingData.load(
            kind, file: URL(fileURLWithPath: path), imageFolder: d.images.map { URL(fileURLWithPath: $0) },
            options: loadOptions, field: "data.\(kind.rawValue)")
        runner.log("\(recipe.recipe): training on \(data.summary)")
        return data
    }

    /// The held-out file (`data.validation`), of the training file's kind, if the recipe names one.
    public func validationData() throws -> TrainingData? {
        guard let d = recipe.data, let (kind, _) = d.file, let path = d.validation else { return nil }
        return try TrainingData.load(
            kind, file: URL(fileURLWithPath: path), imageFolder: d.images.map { URL(fileURLWithPath: $0) },
            options: loadOptions, field: "data.validation")
    }

    /// Steps between held-out losses: `data.validation_every`, or a tenth of the steps.
    public var validationEvery: Int { recipe.data?.validationEvery ?? max(1, settings.steps / 10) }

    /// `data.strict`, with skipped entries summarised in the runner's log.
    var loadOptions: LoadOptions {
        var o = LoadOptions(strict: recipe.data?.strict ?? false)
        o.warn = { [log = runner.log] in log("warning: \($0)") }
        return o
    }

    /// The world's test scenes recipes that score themselves use (`world.test_scenes`) — only when
    /// they trained on the world: on other data, `vlkit eval --data` scores the written directory.
    public func worldTestScenes(_ count: Int? = nil) -> [WorldSample] {
        guard onWorld else {
            runner.log(
                "\(recipe.recipe): trained on \(recipe.data?.file?.path ?? "files"); not scored on the built-in world's test split"
            )
            return []
        }
        return World().samples(.test, count: count ?? recipe.world.testScenes, seed: recipe.world.seed)
    }

    /// A trainer for `model` reporting as `name` (see `RecipeRunner.makeTrainer`).
    public func trainer(
        _ name: String, _ model: Module, settings: TrainingSettings? = nil, checkpoints: String = "checkpoints"
    ) throws -> Trainer {
        try runner.makeTrainer(name, model, settings ?? self.settings, output, checkpoints: checkpoints)
    }

    /// A trainer that also measures the held-out loss of `validation` batches, when the recipe names a file.
    public func trainer<Batch>(
        _ name: String, _ model: Module, validation: Batches<Batch>?,
        loss: @escaping (Batch, inout RandomGenerator) throws -> (loss: Tensor, samples: Int)
    ) throws -> Trainer {
        let t = try trainer(name, model)
        if let validation { t.validate(every: validationEvery, on: validation, loss) }
        return t
    }
}
