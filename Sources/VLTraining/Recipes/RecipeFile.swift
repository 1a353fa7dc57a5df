import Foundation
import VLNN

/// A recipe file (JSON, or YAML with the same schema): which stage runs, on what data, from which
/// models, with which settings. `vlkit train RECIPE.json --set training.steps=100` reads one;
/// `recipes/*` are ready-made.
public struct Recipe: Codable, Equatable {
    /// The recipe's name as files write it ("llava-stage2"); `RecipeRegistry` maps it to the code that runs it.
    public struct Name: RawRepresentable, Hashable, Codable, Sendable, ExpressibleByStringLiteral,
        CustomStringConvertible
    {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { rawValue = value }
        public init(from decoder: Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(rawValue)
        }
        public var description: String { rawValue }
    }

    /// The built-in world as training data.
    public struct WorldScenes: Codable, Equatable {
        public var trainScenes = 4000
        public var seed: UInt64 = 0
        /// Scenes of the test split that recipes which report a measure are scored on.
        public var testScenes = 200

        enum CodingKeys: String, CodingKey, CaseIterable {
            case trainScenes = "train_scenes", seed, testScenes = "test_scenes"
        }
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

        enum CodingKeys: String, CodingKey, CaseIterable {
            case r, alpha = "lora_alpha", dropout = "lora_dropout", targetModules = "target_modules"
        }
        public init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            r = try c.decodeIfPresent(Int.self, forKey: .r) ?? r
            alpha = try c.decodeIfPresent(Float.self, forKey: .alpha) ?? alpha
            dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? dropout
            targetModules = try c.decodeIfPresent([String].self, forKey: .targetModules) ?? targetModules
        }
    }

    public var recipe: Name
    /// Dataset files to train on instead of the built-in world: one of `llava_json` (LLaVA
    /// conversation JSON), `captions` (image–caption JSONL) or `interleaved` (documents JSONL), as
    /// the recipe reads; `images`, the folder the entries' image paths are relative to (the file's
    /// own folder by default); `validation`, a held-out file of the same kind whose loss is logged
    /// every `validation_every` steps; `strict`, whether a bad entry is an error (file and line) or
    /// skipped with one warning. Paths are relative to the recipe file.
    public struct DataFiles: Codable, Equatable, Sendable {
        public var llavaJSON: String?
        public var captions: String?
        public var interleaved: String?
        public var images: String?
        public var validation: String?
        public var validationEvery: Int?
        public var strict = false

        enum CodingKeys: String, CodingKey, CaseIterable {
            case llavaJSON = "llava_json", captions, interleaved, images, validation
            case validationEvery = "validation_every", strict
        }

        public init(
            llavaJSON: String? = nil, captions: String? = nil, interleaved: String? = nil, images: String? = nil,
            validation: String? = nil, strict: Bool = false
        ) {
            (self.llavaJSON, self.captions, self.interleaved, self.images) = (llavaJSON, captions, interleaved, images)
            (self.validation, self.strict) = (validation, strict)
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            llavaJSON = try c.decodeIfPresent(String.self, forKey: .llavaJSON)
            captions = try c.decodeIfPresent(String.self, forKey: .captions)
            interleaved = try c.decodeIfPresent(String.self, forKey: .interleaved)
            images = try c.decodeIfPresent(String.self, forKey: .images)
            validation = try c.decodeIfPresent(String.self, forKey: .validation)
            validationEvery = try c.decodeIfPresent(Int.self, forKey: .validationEvery)
            strict = try c.decodeIfPresent(Bool.self, forKey: .strict) ?? strict
        }

        /// The files named, by kind (one is allowed).
        var named: [(DataKind, String)] {
            [(DataKind.llavaJSON, llavaJSON), (.captions, captions), (.interleaved, interleaved)].compactMap { k, v in
                v.map { (k, $0) }
            }
        }

        /// The training file and its kind.
        public var file: (kind: DataKind, path: String)? { named.count == 1 ? (named[0].0, named[0].1) : nil }
    }
    /// Dataset files to train on; nil: the built-in world (`world`).
    public var data: DataFiles?

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

        enum CodingKeys: String, CodingKey, CaseIterable {
            case hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        }
        public init(hiddenSize: Int? = nil, numHiddenLayers: Int? = nil) {
            (self.hiddenSize, self.numHiddenLayers) = (hiddenSize, numHiddenLayers)
        }
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
            case converterTokens = "converter_tokens", validationEvery = "validation_every", validationScenes =
                "validation_scenes"
        }
        public init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            converterSteps = try c.decodeIfPresent(Int.self, forKey: .converterSteps) ?? converterSteps
            converterLearningRate =
                try c.decodeIfPresent(Float.self, forKey: .converterLearningRate) ?? converterLearningRate
            projectorWarmupSteps = try c.decodeIfPresent(Int.self, forKey: .projectorWarmupSteps)
            projectorWarmupEpochs = try c.decodeIfPresent(Double.self, forKey: .projectorWarmupEpochs)
            projectorWarmupLRScale =
                try c.decodeIfPresent(Float.self, forKey: .projectorWarmupLRScale) ?? projectorWarmupLRScale
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
        case recipe, output, world, data, model, vision, training, lora
        case evaluation, config, vpgtrans
        case languageModel = "language_model"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        recipe = try c.decode(Name.self, forKey: .recipe)
        output = try c.decode(String.self, forKey: .output)
        world = try c.decodeIfPresent(WorldScenes.self, forKey: .world) ?? world
        data = try c.decodeIfPresent(DataFiles.self, forKey: .data)
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
            throw RecipeError(
                "\(url.path): \"\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))\" is missing")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw RecipeError(
                "\(url.path): \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\" has the wrong type")
        } catch let DecodingError.dataCorrupted(context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            let known =
                field == "recipe"
                ? "recipes: " + RecipeRegistry.names.joined(separator: ", ")
                : field == "vpgtrans.converter_tokens" ? "all or data" : context.debugDescription
            throw RecipeError("\(url.path): \"\(field)\" is not valid (\(known))")
        }
        let base = url.deletingLastPathComponent()
        func resolve(_ path: String?) -> String? {
            path.map { $0.hasPrefix("/") ? $0 : base.appendingPathComponent($0).path }
        }
        output = resolve(output)!
        (model, vision, languageModel) = (resolve(model), resolve(vision), resolve(languageModel))
        if var d = self.data {
            (d.llavaJSON, d.captions, d.interleaved) = (
                resolve(d.llavaJSON), resolve(d.captions), resolve(d.interleaved)
            )
            (d.images, d.validation) = (resolve(d.images), resolve(d.validation))
            self.data = d
        }
        do { try validate() } catch let error as RecipeError { throw RecipeError("\(url.path): \(error)") }
    }

    /// The fields a recipe object may have, and those of its sections.
    static let fields: [String: [String]] = [
        "": CodingKeys.allCases.map(\.stringValue), "world": WorldScenes.CodingKeys.allCases.map(\.stringValue),
        "training": Training.CodingKeys.allCases.map(\.stringValue),
        "lora": LoRA.CodingKeys.allCases.map(\.stringValue),
        "evaluation": Evaluation.CodingKeys.allCases.map(\.stringValue),
        "config": ModelConfig.CodingKeys.allCases.map(\.stringValue),
        "vpgtrans": VPGTrans.CodingKeys.allCases.map(\.stringValue),
        "data": DataFiles.CodingKeys.allCases.map(\.stringValue),
    ]

    /// A field the recipe does not know (a misspelt key would otherwise be ignored) is an error naming it.
    static func checkFields(_ object: [String: Any], file: String) throws {
        func check(_ keys: [String], section: String) throws {
            let known = fields[section]!
            for key in keys.sorted() where !known.contains(key) {
                let name = section.isEmpty ? key : "\(section).\(key)"
                throw RecipeError(
                    "\(file): \"\(name)\" is not a recipe field (\(section.isEmpty ? "fields" : section): \(known.joined(separator: ", ")))"
                )
            }
        }
        try check(Array(object.keys), section: "")
        for (section, value) in object where section != "" {
            guard fields[section] != nil, let inner = value as? [String: Any] else { continue }
            try check(Array(inner.keys), section: section)
        }
    }

    /// Values that decode but cannot run: an unknown recipe, a section another recipe reads, a
    /// missing input, a dataset file of a kind the recipe does not read, a length that is not
    /// positive. The error names the field.
    public func validate() throws {
        guard let runner = RecipeRegistry.recipe(named: recipe) else {
            throw RecipeError("\"recipe\" is not valid (recipes: \(RecipeRegistry.names.joined(separator: ", ")))")
        }
        try Recipe.positive(training.steps, "training.steps")
        try Recipe.positive(training.batchSize, "training.batch_size")
        let sections = runner.sections
        for (section, present) in [("config", config != nil), ("vpgtrans", vpgtrans != nil)]
        where present && !sections.contains(section) {
            throw RecipeError(
                "\"\(section)\" is read only by the \(RecipeRegistry.readers(of: section).joined(separator: " and ")) recipe"
            )
        }
        try Recipe.positive(config?.hiddenSize, "config.hidden_size")
        try Recipe.positive(config?.numHiddenLayers, "config.num_hidden_layers")
        if let hidden = config?.hiddenSize, hidden % 32 != 0 {
            throw RecipeError("\"config.hidden_size\" must be a multiple of 32 (heads of 32), not \(hidden)")
        }
        try validateData(reads: runner.data)
        try RecipeRegistry.validate(self, with: runner)
    }

    static func positive(_ value: Int?, _ field: String) throws {
        if let value, value <= 0 { throw RecipeError("\"\(field)\" must be positive (it is \(value))") }
    }

    /// `data` names one file, of a kind in `reads`; `validation_every` is positive and has a file to measure.
    func validateData(reads: [DataKind]) throws {
        guard let d = data else { return }
        let options = reads.map { "\"data.\($0.rawValue)\" (\($0.what))" }.joined(separator: " or ")
        let named = d.named
        guard !named.isEmpty else {
            throw RecipeError(
                reads.isEmpty
                    ? "\"data\": \(recipe) trains on the built-in world only; leave \"data\" out"
                    : "\"data\" names no dataset file: give \(options), or leave \"data\" out to train on the built-in world"
            )
        }
        guard named.count == 1 else {
            throw RecipeError(
                "\"data.\(named[0].0.rawValue)\" and \"data.\(named[1].0.rawValue)\" cannot both be set: a recipe trains on one dataset file"
            )
        }
        let kind = named[0].0
        guard reads.contains(kind) else {
            throw RecipeError(
                reads.isEmpty
                    ? "\"data.\(kind.rawValue)\": \(recipe) trains on the built-in world only; leave \"data\" out"
                    : "\"data.\(kind.rawValue)\": \(recipe) does not train on \(kind.what); it reads \(options)")
        }
        try Recipe.positive(d.validationEvery, "data.validation_every")
        if d.validationEvery != nil && d.validation == nil {
            throw RecipeError("\"data.validation_every\" needs \"data.validation\" (a held-out \(kind.what) file)")
        }
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
            if dict[key] != nil && !(dict[key] is [String: Any]) {
                throw RecipeError("--set \(override): \(key) is not an object")
            }
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
