import VLFiles
import VLIO
extension LlamaConfig {
    /// The model types that share this architecture.
    public static let modelTypes = ["llama", "mistral", "qwen2"]

    /// The fields read from and written to `config.json` as they are.
    static let fields: [ConfigField<LlamaConfig>] = [
        .int("vocab_size", \.vocabSize), .int("hidden_size", \.hiddenSize),
        .int("intermediate_size", \.intermediateSize),
        .int("num_hidden_layers", \.numHiddenLayers), .int("num_attention_heads", \.numAttentionHeads),
        .optionalInt("num_key_value_heads", \.numKeyValueHeads), .optionalInt("head_dim", \.headDim),
        .string("hidden_act", \.hiddenAct), .int("max_position_embeddings", \.maxPositionEmbeddings),
        .float("rms_norm_eps", \.rmsNormEps), .bool("attention_bias", \.attentionBias), .bool("mlp_bias", \.mlpBias),
        .bool("tie_word_embeddings", \.tieWordEmbeddings), .optionalInt("bos_token_id", \.bosTokenId),
        .ints("eos_token_id", \.eosTokenIds), .optionalInt("pad_token_id", \.padTokenId),
    ]

    public init(_ r: ConfigReader) throws {
        self.init()
        let type = try r.string("model_type", "llama")
        guard LlamaConfig.modelTypes.contains(type) else {
            throw ConfigError(
                "\(r.source): model_type \"\(type)\" is not a LLaMA-family model ("
                    + LlamaConfig.modelTypes.joined(separator: ", ") + ")")
        }
        try Self.fields.read(into: &self, from: r)
        // Qwen2 has biases on q/k/v but not on the output projection, whatever attention_bias says.
        if type == "qwen2" { attentionBias = true }
        outputProjectionBias = type == "qwen2" ? false : attentionBias
        rope = try RopeScaling(r)
        guard numAttentionHeads > 0, numAttentionHeads % kvHeads == 0 else {
            throw ConfigError(
                "\(r.source): \(numAttentionHeads) attention heads are not a multiple of \(kvHeads) KV heads")
        }
    }
}

extension RopeScaling {
    /// transformers 5 writes `rope_parameters`; older configs have `rope_theta` and `rope_scaling`.
    init(_ r: ConfigReader) throws {
        self.init()
        theta = try r.float("rope_theta", theta)
        guard let p = try r.sub("rope_parameters") ?? r.sub("rope_scaling") else { return }
        theta = try p.float("rope_theta", theta)
        let name = try p.optionalString("rope_type") ?? p.string("type", "default")
        guard let k = Kind(rawValue: name) else {
            throw ConfigError("\(p.source): rope type \"\(name)\" is not supported (default, linear, dynamic, llama3)")
        }
        kind = k
        factor = try p.float("factor", factor)
        lowFrequencyFactor = try p.float("low_freq_factor", lowFrequencyFactor)
        highFrequencyFactor = try p.float("high_freq_factor", highFrequencyFactor)
        originalMaxPositions = try p.int("original_max_position_embeddings", originalMaxPositions)
    }
}

extension LlavaConfig {
    public init(_ r: ConfigReader) throws {
        self.init()
        let type = try r.string("model_type", "llava")
        guard type == "llava" else { throw ConfigError("\(r.source): model_type is \"\(type)\", expected \"llava\"") }
        guard let v = try r.sub("vision_config"), let t = try r.sub("text_config") else {
            throw ConfigError("\(r.source): a llava config needs vision_config and text_config")
        }
        let visionType = try v.string("model_type", "clip_vision_model")
        guard visionType == "clip_vision_model" else {
            throw ConfigError("\(v.source): vision tower \"\(visionType)\" is not supported (clip_vision_model)")
        }
        vision = try CLIPVisionConfig(v)
        text = try LlamaConfig(t)
        imageTokenId = try r.optionalInt("image_token_index") ?? r.int("image_token_id", imageTokenId)
        projectorHiddenAct = try r.string("projector_hidden_act", projectorHiddenAct)
        projectorBias = try r.bool("multimodal_projector_bias", projectorBias)
        selection.layers = try r.ints("vision_feature_layer") ?? [-2]
        let strategy = try r.string("vision_feature_select_strategy", "default")
        guard strategy == "default" || strategy == "full" else {
            throw ConfigError("\(r.source): vision_feature_select_strategy \"\(strategy)\" is not default or full")
        }
        selection.keepClassToken = strategy == "full"
    }
}
