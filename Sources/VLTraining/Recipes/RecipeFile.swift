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
        case vpgtrans
    }

    /// The built-in world as training data.
    public struct WorldScenes: Codable, Equatable {
        public var trainScenes = 4000
        public var seed: UInt64 = 0
        /// Scenes of the test split that recipes which report a measure are scored on.
        public var testScenes = 200

        enum CodingKeys: String, CodingKey, CaseIterable { case trainScenes = "train_scenes", seed, testScenes = "test_scenes" }
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

        enum CodingKeys: String, CodingKey, CaseIterable {
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

        enum CodingKeys: String, CodingKey, CaseIterable { case r, alpha = "lora_alpha", dropout = "lora_dropout", targetModules = "target_modules" }
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

        enum CodingKeys: String, CodingKey, CaseIterable { case testScenes = "test_scenes", shots }
        public init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            testScenes = try c.decodeIfPresent(Int.self, forKey: .testScenes) ?? testScenes
            shots = try c.decodeIfPresent([Int].self, forKey: .shots) ?? shots
        }
    }

    /// The size of the model a recipe creates, in config.json's names (recipe `language-model`).
    public struct ModelConfig: Codable, Equatable {
        public var hiddenSize: Int?
        public var numHiddenLayers: Int?

        enum CodingKeys: String, CodingKey, CaseIterable { case hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers" }
        public init(hiddenSize: Int? = nil, numHiddenLayers: Int? = nil) { (self.hiddenSize, self.numHiddenLayers) = (hiddenSize, numHiddenLayers) }
    }
    public var config: ModelConfig?

    /// VPGTrans's schedule (recipe `vpgtrans`); `training` is the fine-tuning phase's.
    public struct VPGTrans: Codable, Equatable {
        /// Full-batch steps of the word-embedding converter (cosine loss over the shared vocabulary).
        public var converterSteps = 300
        public var converterLearningRate: Float = 1e-2
        /// The projector warm-up's length: steps, or epochs of the training examples (one of the two).
        public var projectorWarmupSteps: Int?
        public var projectorWarmupEpochs: Double?
        /// The warm-up's learning rate over `training.learning_rate` (VPGTrans: 5).
        public var projectorWarmupLRScale: Float = 5
        /// Also train a new projector on the target LLM for the same steps and compare.
        public var compareScratch = false
        /// The converter's vocabulary: every token both tokenizers have, or those the training data uses.
        public var converterTokens = ConverterTokens.all
        public enum ConverterTokens: String, Codable, Sendable { case all, data }
        /// Held-out loss every this many steps (0: none; the comparison then uses training losses),
        /// on the questions and captions of `validationScenes` test scenes (another seed than the VQA's).
        public var validationEvery = 10
        public var validationScenes = 32

        enum CodingKeys: String, CodingKey, CaseIterable {
            case converterSteps = "converter_steps", converterLearningRate = "converter_learning_rate"
            case projectorWarmupSteps = "projector_warmup_steps", projectorWarmupEpochs = "projector_warmup_epochs"
            case projectorWarmupLRScale = "projector_warmup_lr_scale", compareScratch = "compare_scratch"
            case converterTokens = "converter_tokens", validationEvery = "validation_every", validationScenes = "validation_scenes"
        }
        public init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            converterSteps = try c.decodeIfPresent(Int.self, forKey: .converterSteps) ?? converterSteps
            converterLearningRate = try c.decodeIfPresent(Float.self, forKey: .converterLearningRate) ?? converterLearningRate
            projectorWarmupSteps = try c.decodeIfPresent(Int.self, forKey: .projectorWarmupSteps)
            projectorWarmupEpochs = try c.decodeIfPresent(Double.self, forKey: .projectorWarmupEpochs)
            projectorWarmupLRScale = try c.decodeIfPresent(Float.self, forKey: .projectorWarmupLRScale) ?? projectorWarmupLRScale
            compareScratch = try c.decodeIfPresent(Bool.self, forKey: .compareScratch) ?? compareScratch
            converterTokens = try c.decodeIfPresent(ConverterTokens.self, forKey: .converterTokens) ?? converterTokens
            validationEvery = try c.decodeIfPresent(Int.self, forKey: .validationEvery) ?? validationEvery
            validationScenes = try c.decodeIfPresent(Int.self, forKey: .validationScenes) ?? validationScenes
        }

        /// The warm-up's steps for `examples` training examples in batches of `batchSize`.
        public func warmupSteps(examples: Int, batchSize: Int) -> Int {
            if let projectorWarmupSteps { return projectorWarmupSteps }
            let steps = ((projectorWarmupEpochs ?? 1) * Double(examples) / Double(max(1, batchSize))).rounded(.up)
            return max(1, Int(steps))
        }
    }
    public var vpgtrans: VPGTrans?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case recipe, output, world, model, vision, training, lora
        case evaluation, config, vpgtrans
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
        config = try c.decodeIfPresent(ModelConfig.self, forKey: .config)
        vpgtrans = try c.decodeIfPresent(VPGTrans.self, forKey: .vpgtrans)
    }

    /// Reads a recipe file, applying `overrides` ("training.steps=100"; values are JSON, or text).
    /// Paths in the recipe are relative to the file's folder.
    public init(contentsOf url: URL, overrides: [String] = []) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RecipeError("\(url.path): no such recipe file")
        }
        var object = try Recipe.object(of: url, data: data)
        for o in overrides { try Recipe.apply(o, to: &object) }
        try Recipe.checkFields(object, file: url.path)
        do {
            self = try JSONDecoder().decode(Recipe.self, from: JSONSerialization.data(withJSONObject: object))
        } catch let DecodingError.keyNotFound(key, context) {
            throw RecipeError("\(url.path): \"\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))\" is missing")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw RecipeError("\(url.path): \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\" has the wrong type")
        } catch let DecodingError.dataCorrupted(context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            let known = field == "recipe" ? "recipes: " + Kind.allCases.map(\.rawValue).joined(separator: ", ")
                : field == "vpgtrans.converter_tokens" ? "all or data" : context.debugDescription
            throw RecipeError("\(url.path): \"\(field)\" is not valid (\(known))")
        }
        let base = url.deletingLastPathComponent()
        func resolve(_ path: String?) -> String? { path.map { $0.hasPrefix("/") ? $0 : base.appendingPathComponent($0).path } }
        output = resolve(output)!
        (model, vision, languageModel) = (resolve(model), resolve(vision), resolve(languageModel))
        do { try validate() } catch let error as RecipeError { throw RecipeError("\(url.path): \(error)") }
    }

    /// The fields a recipe object may have, and those of its sections.
    static let fields: [String: [String]] = [
        "": CodingKeys.allCases.map(\.stringValue), "world": WorldScenes.CodingKeys.allCases.map(\.stringValue),
        "training": Training.CodingKeys.allCases.map(\.stringValue), "lora": LoRA.CodingKeys.allCases.map(\.stringValue),
        "evaluation": Evaluation.CodingKeys.allCases.map(\.stringValue), "config": ModelConfig.CodingKeys.allCases.map(\.stringValue),
        "vpgtrans": VPGTrans.CodingKeys.allCases.map(\.stringValue),
    ]

    /// A field the recipe does not know (a misspelt key would otherwise be ignored) is an error naming it.
    static func checkFields(_ object: [String: Any], file: String) throws {
        func check(_ keys: [String], section: String) throws {
            let known = fields[section]!
            for key in keys.sorted() where !known.contains(key) {
                let name = section.isEmpty ? key : "\(section).\(key)"
                throw RecipeError("\(file): \"\(name)\" is not a recipe field (\(section.isEmpty ? "fields" : section): \(known.joined(separator: ", ")))")
            }
        }
        try check(Array(object.keys), section: "")
        for (section, value) in object where section != "" {
            guard fields[section] != nil, let inner = value as? [String: Any] else { continue }
            try check(Array(inner.keys), section: section)
        }
    }

    /// Values that decode but cannot run: a section another recipe reads, a missing input, a
    /// length that is not positive. The error names the field.
    public func validate() throws {
        func positive(_ value: Int?, _ field: String) throws {
            if let value, value <= 0 { throw RecipeError("\"\(field)\" must be positive (it is \(value))") }
        }
        try positive(training.steps, "training.steps")
        try positive(training.batchSize, "training.batch_size")
        if config != nil && recipe != .languageModel { throw RecipeError("\"config\" is read only by the language-model recipe") }
        try positive(config?.hiddenSize, "config.hidden_size")
        try positive(config?.numHiddenLayers, "config.num_hidden_layers")
        if let hidden = config?.hiddenSize, hidden % 32 != 0 {
            throw RecipeError("\"config.hidden_size\" must be a multiple of 32 (heads of 32), not \(hidden)")
        }
        guard recipe == .vpgtrans else {
            if vpgtrans != nil { throw RecipeError("\"vpgtrans\" is read only by the vpgtrans recipe") }
            return
        }
        if vision != nil { throw RecipeError("\"vision\" is not read by vpgtrans: the vision tower is the one of \"model\"") }
        if lora != nil { throw RecipeError("\"lora\" is not read by vpgtrans: the new language model stays frozen") }
        if model == nil { throw RecipeError("vpgtrans needs \"model\" (the source: a LLaVA directory, e.g. llava-stage1's)") }
        if languageModel == nil { throw RecipeError("vpgtrans needs \"language_model\" (the target: a LLaMA directory, e.g. language-model's)") }
        let v = vpgtrans ?? VPGTrans()
        try positive(v.converterSteps, "vpgtrans.converter_steps")
        try positive(v.projectorWarmupSteps, "vpgtrans.projector_warmup_steps")
        if v.projectorWarmupSteps != nil && v.projectorWarmupEpochs != nil {
            throw RecipeError("\"vpgtrans.projector_warmup_steps\" and \"vpgtrans.projector_warmup_epochs\" cannot both be set")
        }
        if let e = v.projectorWarmupEpochs, !(e > 0) { throw RecipeError("\"vpgtrans.projector_warmup_epochs\" must be positive (it is \(e))") }
        if v.validationEvery < 0 { throw RecipeError("\"vpgtrans.validation_every\" must be 0 (none) or positive (it is \(v.validationEvery))") }
        try positive(v.validationScenes, "vpgtrans.validation_scenes")
        if !(v.converterLearningRate > 0) { throw RecipeError("\"vpgtrans.converter_learning_rate\" must be positive") }
        if !(v.projectorWarmupLRScale > 0) { throw RecipeError("\"vpgtrans.projector_warmup_lr_scale\" must be positive") }
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
