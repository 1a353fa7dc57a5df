import VLFiles
import VLIO
extension CLIPVisionConfig {
    /// The fields read from and written to `config.json` as they are.
    static let fields: [ConfigField<CLIPVisionConfig>] = [
        .int("hidden_size", \.hiddenSize), .int("intermediate_size", \.intermediateSize),
        .int("num_hidden_layers", \.numHiddenLayers), .int("num_attention_heads", \.numAttentionHeads),
        .int("num_channels", \.numChannels), .int("image_size", \.imageSize), .int("patch_size", \.patchSize),
        .string("hidden_act", \.hiddenAct), .float("layer_norm_eps", \.layerNormEps),
        .int("projection_dim", \.projectionDim),
    ]

    /// From a `vision_config` object or a standalone `clip_vision_model` config; missing fields
    /// keep `defaults`.
    public init(_ r: ConfigReader, defaults: CLIPVisionConfig = CLIPVisionConfig()) throws {
        self = defaults
        try Self.fields.read(into: &self, from: r)
        guard patchSize > 0, imageSize % patchSize == 0 else {
            throw ConfigError("\(r.source): image_size \(imageSize) is not a multiple of patch_size \(patchSize)")
        }
        guard numAttentionHeads > 0, hiddenSize % numAttentionHeads == 0 else {
            throw ConfigError("\(r.source): hidden_size \(hiddenSize) is not divisible by \(numAttentionHeads) heads")
        }
    }
}

extension CLIPTextConfig {
    /// The fields read from and written to `config.json` as they are.
    static let fields: [ConfigField<CLIPTextConfig>] = [
        .int("vocab_size", \.vocabSize), .int("hidden_size", \.hiddenSize),
        .int("intermediate_size", \.intermediateSize),
        .int("num_hidden_layers", \.numHiddenLayers), .int("num_attention_heads", \.numAttentionHeads),
        .int("max_position_embeddings", \.maxPositionEmbeddings), .string("hidden_act", \.hiddenAct),
        .float("layer_norm_eps", \.layerNormEps), .int("projection_dim", \.projectionDim),
        .int("pad_token_id", \.padTokenId), .int("bos_token_id", \.bosTokenId), .int("eos_token_id", \.eosTokenId),
    ]

    public init(_ r: ConfigReader) throws {
        self.init()
        try Self.fields.read(into: &self, from: r)
        guard numAttentionHeads > 0, hiddenSize % numAttentionHeads == 0 else {
            throw ConfigError("\(r.source): hidden_size \(hiddenSize) is not divisible by \(numAttentionHeads) heads")
        }
    }
}

extension CLIPConfig {
    /// The fields read from and written to `config.json` as they are (the towers are nested objects).
    static let fields: [ConfigField<CLIPConfig>] = [
        .int("projection_dim", \.projectionDim), .float("logit_scale_init_value", \.logitScaleInitValue),
    ]

    /// From a `clip` config (`text_config` + `vision_config`).
    public init(_ r: ConfigReader) throws {
        let type = try r.string("model_type", "clip")
        guard type == "clip" else {
            throw ConfigError("\(r.source): model_type is \"\(type)\", expected \"clip\"")
        }
        self.init()
        try Self.fields.read(into: &self, from: r)
        text = try r.sub("text_config").map(CLIPTextConfig.init) ?? CLIPTextConfig()
        vision = try r.sub("vision_config").map { try CLIPVisionConfig($0) } ?? CLIPVisionConfig()
    }
}
