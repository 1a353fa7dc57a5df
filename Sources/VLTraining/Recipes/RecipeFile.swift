import Foundation
import VLNN

/// A recipe file (JSON, or YAML with the same schema): which stage runs, on what data, from which
/// models, with which settings. `vlkit train RECIPE.json --set training.steps=100` reads one;
/// `recipes/*` are ready-made.
public struct Recipe: Codable, Equatable {
    public enum Kind: String, Codable, CaseIterable {
        case clip
        case languageModel = "language-model"
        case llavaStage1 = "llava-stage1"
        case llavaStage2 = "llava-stage2"
        case flamingo
        case albef
        case mplugOwlStage1 = "mplug-owl-stage1"
        case mplugOwlStage2 = "mplug-owl-stage2"
        case blip2Vision = "blip2-vision"
        case blip2Stage1 = "blip2-stage1"
        case blip2Stage2 = "blip2-stage2"
        case minigpt4
    }

    /// The built-in world as training data.
    public struct WorldScenes: Codable, Equatable {
        public var trainScenes = 4000
        public var seed: UInt64 = 0
        /// Scenes of the test split that recipes which report a measure are scored on.
        public var testScenes = 200

        enum CodingKeys: String, CodingKey { case trainScenes = "train_scenes", seed, testScenes = "test_scenes" }
        public init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            trainScenes = try c.decodeIfPresent(Int.self, forKey: .trainScenes) ?? trainScenes
            testScenes = try c.decodeIfPresent(Int.self, forKey: .testScenes) ?? testScenes
            seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? seed
        }
    }

    public struct Training: Codable, Equatable {
        public var steps: Int?
        public var batchSize: Int?
        public var learningRate: Float?
        public var warmupSteps: Int?
        public var weightDecay: Float?
        public var clipNorm: Float?
        public var accumulation: Int?
        public var seed: UInt64?
        public var checkpointEvery: Int?

        enum CodingKeys: String, CodingKey {
            case steps, seed, accumulation
            case batchSize = "batch_size", learningRate = "learning_rate", warmupSteps = "warmup_steps"
            case weightDecay = "weight_decay", clipNorm = "clip_norm", checkpointEvery = "checkpoint_every"
        }

        /// These values over `defaults`.
        public func applied(to defaults: TrainingSettings) -> TrainingSettings {
            var s = defaults
            s.steps = steps ?? s.steps
            s.batchSize = batchSize ?? s.batchSize
            s.learningRate = learningRate ?? s.learningRate
            s.warmupSteps = warmupSteps ?? s.warmupSteps
            s.weightDecay = weightDecay ?? s.weightDecay
            s.clipNorm = clipNorm ?? s.clipNorm
            s.accumulation = accumulation ?? s.accumulation
            s.seed = seed ?? s.seed
            s.checkpointEvery = checkpointEvery ?? s.checkpointEvery
            return s
        }
    }

    /// LoRA on the language model (stage 2), in PEFT's terms.
    public struct LoRA: Codable, Equatable {
        public var r = 8
        public var alpha: Float = 16
        public var dropout: Float = 0
        public var targetModules = ["q_proj", "v_proj"]

        enum CodingKeys: String, CodingKey { case r, alpha = "lora_alpha", dropout = "lora_dropout", targetModules = "target_modules" }
        public init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            r = try c.decodeIfPresent(Int.self, forKey: .r) ?? r
            alpha = try c.decodeIfPresent(Float.self, forKey: .alpha) ?? alpha
            dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? dropout
            targetModules = try c.decodeIfPresent([String].self, forKey: .targetModules) ?? targetModules
        }
    }

    public var recipe: Kind
    /// Where the trained model (a Hugging Face directory) and the checkpoints go.
    public var output: String
    public var world = WorldScenes()
    /// The directory to continue from: LLaVA stage 1's (llava-stage2), mPLUG-Owl stage 1's
    /// (mplug-owl-stage2), BLIP-2 stage 1's (blip2-stage2) or stage 2's (minigpt4).
    public var model: String?
    /// The vision tower: a CLIP directory (llava-stage1, mplug-owl-stage1, flamingo) or a blip2-vision
    /// directory (blip2-stage1).
    public var vision: String?
    /// A LLaMA directory that becomes the frozen or trained language model (llava-stage1, mplug-owl-stage1,
    /// flamingo, blip2-stage2, minigpt4).
    public var languageModel: String?
    public var training = Training()
    public var lora: LoRA?
    public var evaluation = Evaluation()

    /// What a stage scores on the world's test split after training (recipe `flamingo`).
    public struct Evaluation: Codable, Equatable {
        public var testScenes = 100
        /// In-context examples before each test scene; one score per entry.
        public var shots = [0, 2]

        enum CodingKeys: String, CodingKey { case testScenes = "test_scenes", shots }
        public init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            testScenes = try c.decodeIfPresent(Int.self, forKey: .testScenes) ?? testScenes
            shots = try c.decodeIfPresent([Int].self, forKey: .shots) ?? shots
        }
    }

    enum CodingKeys: String, CodingKey {
        case recipe, output, world, model, vision, training, lora
        case evaluation
        case languageModel = "language_model"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        recipe = try c.decode(Kind.self, forKey: .recipe)
        output = try c.decode(String.self, forKey: .output)
        world = try c.decodeIfPresent(WorldScenes.self, forKey: .world) ?? world
        model = try c.decodeIfPresent(String.self, forKey: .model)
        vision = try c.decodeIfPresent(String.self, forKey: .vision)
        languageModel = try c.decodeIfPresent(String.self, forKey: .languageModel)
        training = try c.decodeIfPresent(Training.self, forKey: .training) ?? training
        lora = try c.decodeIfPresent(LoRA.self, forKey: .lora)
        evaluation = try c.decodeIfPresent(Evaluation.self, forKey: .evaluation) ?? evaluation
    }

    /// Reads a recipe file, applying `overrides` ("training.steps=100"; values are JSON, or text).
    /// Paths in the recipe are relative to the file's folder.
    public init(contentsOf url: URL, overrides: [String] = []) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RecipeError("\(url.path): no such recipe file")
        }
        var object = try Recipe.object(of: url, data: data)
        for o in overrides { try Recipe.apply(o, to: &object) }
        do {
            self = try JSONDecoder().decode(Recipe.self, from: JSONSerialization.data(withJSONObject: object))
        } catch let DecodingError.keyNotFound(key, context) {
            throw RecipeError("\(url.path): \"\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))\" is missing")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw RecipeError("\(url.path): \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\" has the wrong type")
        } catch let DecodingError.dataCorrupted(context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw RecipeError("\(url.path): \"\(field)\" is not valid (recipes: \(Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let base = url.deletingLastPathComponent()
        func resolve(_ path: String?) -> String? { path.map { $0.hasPrefix("/") ? $0 : base.appendingPathComponent($0).path } }
        output = resolve(output)!
        (model, vision, languageModel) = (resolve(model), resolve(vision), resolve(languageModel))
    }

    /// Sets a dotted key of a JSON object: "training.steps=100", "lora.target_modules=[\"q_proj\"]".
    static func apply(_ override: String, to object: inout [String: Any]) throws {
        guard let eq = override.firstIndex(of: "="), eq != override.startIndex else {
            throw RecipeError("--set \(override): expected key=value")
        }
        let path = override[..<eq].split(separator: ".").map(String.init)
        let text = String(override[override.index(after: eq)...])
        let value = (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) ?? text
        func set(_ dict: inout [String: Any], _ keys: ArraySlice<String>) throws {
            let key = keys.first!
            if keys.count == 1 { dict[key] = value; return }
            var child = dict[key] as? [String: Any] ?? [:]
            if dict[key] != nil && !(dict[key] is [String: Any]) { throw RecipeError("--set \(override): \(key) is not an object") }
            try set(&child, keys.dropFirst())
            dict[key] = child
        }
        try set(&object, path[...])
    }
}

/// A recipe that cannot run, naming the file or field and what is wrong.
public struct RecipeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
