import VLFiles

extension OPTConfig {
    /// The fields read from and written to `config.json` as they are.
    static let fields: [ConfigField<OPTConfig>] = [
        .int("vocab_size", \.vocabSize), .int("hidden_size", \.hiddenSize),
        .int("num_hidden_layers", \.numHiddenLayers),
        .int("ffn_dim", \.ffnDim), .int("num_attention_heads", \.numAttentionHeads),
        .int("max_position_embeddings", \.maxPositionEmbeddings), .bool("do_layer_norm_before", \.doLayerNormBefore),
        .optionalInt("word_embed_proj_dim", \.wordEmbedProjDim), .string("activation_function", \.activationFunction),
        .bool("enable_bias", \.enableBias), .bool("layer_norm_elementwise_affine", \.layerNormElementwiseAffine),
        .bool("_remove_final_layer_norm", \.removeFinalLayerNorm), .int("bos_token_id", \.bosTokenId),
        .int("eos_token_id", \.eosTokenId), .int("pad_token_id", \.padTokenId),
    ]

    public init(_ r: ConfigReader) throws {
        self.init()
        let type = try r.string("model_type", "opt")
        guard type == "opt" else { throw ConfigError("\(r.source): model_type is \"\(type)\", expected \"opt\"") }
        try Self.fields.read(into: &self, from: r)
    }
}
