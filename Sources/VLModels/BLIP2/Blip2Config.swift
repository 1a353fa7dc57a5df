import VLFiles
import VLIO
/// HF `Blip2VisionConfig` (EVA-style ViT).
public struct Blip2VisionConfig: Equatable {
    public var hiddenSize = 1408
    public var intermediateSize = 6144
    public var numHiddenLayers = 39
    public var numAttentionHeads = 16
    public var imageSize = 224
    public var patchSize = 14
    public var hiddenAct = "gelu"
    public var layerNormEps: Float = 1e-6
    public var qkvBias = true

    public init() {}
    public var numPositions: Int { (imageSize / patchSize) * (imageSize / patchSize) + 1 }
}

/// HF `Blip2QFormerConfig`.
public struct QFormerConfig: Equatable {
    public var hiddenSize = 768
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var intermediateSize = 3072
    public var hiddenAct = "gelu"
    public var layerNormEps: Float = 1e-12
    public var crossAttentionFrequency = 2
    public var encoderHiddenSize = 1408
    /// Text side (stage-1 heads): token and position tables, and a second feed-forward per layer
    /// (`intermediate`, `output`) for text tokens, present when `use_qformer_text_input` is set.
    public var vocabSize = 30522
    public var maxPositionEmbeddings = 512
    public var useQformerTextInput = false

    public init() {}
}

/// HF `Blip2Config`: vision tower, Q-Former with `numQueryTokens` learned queries, and a decoder.
public struct Blip2Config {
    public var vision = Blip2VisionConfig()
    public var qformer = QFormerConfig()
    public var text: TextDecoderConfig = .opt(OPTConfig())
    public var numQueryTokens = 32
    /// Width of the shared image–text space of the stage-1 projections.
    public var imageTextHiddenSize = 256
    /// When set, the prompt holds this token where the query outputs go; otherwise they are prepended.
    public var imageTokenId: Int? = nil

    public init() {}
}

/// The language models an assembly can hold, by `text_config.model_type`.
public enum TextDecoderConfig {
    case opt(OPTConfig)
    case llama(LlamaConfig)

    public var hiddenSize: Int {
        switch self {
        case .opt(let c): return c.embedDim
        case .llama(let c): return c.hiddenSize
        }
    }

    public func makeModel() throws -> LanguageModel {
        switch self {
        case .opt(let c): return try OPTForCausalLM(c)
        case .llama(let c): return try LlamaForCausalLM(c)
        }
    }

    public init(_ r: ConfigReader) throws {
        let type = try r.string("model_type", "opt")
        if type == "opt" {
            self = .opt(try OPTConfig(r))
        } else if LlamaConfig.modelTypes.contains(type) {
            self = .llama(try LlamaConfig(r))
        } else {
            throw ConfigError(
                "\(r.source): language model \"\(type)\" is not supported (opt, "
                    + LlamaConfig.modelTypes.joined(separator: ", ") + ")")
        }
    }
}

extension Blip2VisionConfig {
    /// The fields read from and written to `config.json` as they are.
    static let fields: [ConfigField<Blip2VisionConfig>] = [
        .int("hidden_size", \.hiddenSize), .int("intermediate_size", \.intermediateSize),
        .int("num_hidden_layers", \.numHiddenLayers), .int("num_attention_heads", \.numAttentionHeads),
        .int("image_size", \.imageSize), .int("patch_size", \.patchSize), .string("hidden_act", \.hiddenAct),
        .float("layer_norm_eps", \.layerNormEps), .bool("qkv_bias", \.qkvBias),
    ]

    public init(_ v: ConfigReader) throws {
        self.init()
        try Self.fields.read(into: &self, from: v)
    }
}

extension QFormerConfig {
    /// The fields read from and written to `config.json` as they are.
    static let fields: [ConfigField<QFormerConfig>] = [
        .int("hidden_size", \.hiddenSize), .int("num_hidden_layers", \.numHiddenLayers),
        .int("num_attention_heads", \.numAttentionHeads), .int("intermediate_size", \.intermediateSize),
        .string("hidden_act", \.hiddenAct), .float("layer_norm_eps", \.layerNormEps),
        .int("cross_attention_frequency", \.crossAttentionFrequency), .int("encoder_hidden_size", \.encoderHiddenSize),
        .int("vocab_size", \.vocabSize), .int("max_position_embeddings", \.maxPositionEmbeddings),
        .bool("use_qformer_text_input", \.useQformerTextInput),
    ]
}

extension Blip2Config {
    public init(_ r: ConfigReader) throws {
        self.init()
        let type = try r.string("model_type", "blip-2")
        guard type == "blip-2" else { throw ConfigError("\(r.source): model_type is \"\(type)\", expected \"blip-2\"") }
        if let v = try r.sub("vision_config") { vision = try Blip2VisionConfig(v) }
        if let q = try r.sub("qformer_config") {
            qformer.encoderHiddenSize = vision.hiddenSize  // the default: the vision tower's width
            try QFormerConfig.fields.read(into: &qformer, from: q)
        }
        text = try r.sub("text_config").map(TextDecoderConfig.init) ?? .opt(OPTConfig())
        numQueryTokens = try r.int("num_query_tokens", numQueryTokens)
        imageTextHiddenSize = try r.int("image_text_hidden_size", imageTextHiddenSize)
        imageTokenId = try r.optionalInt("image_token_index") ?? r.optionalInt("image_token_id")
    }
}
