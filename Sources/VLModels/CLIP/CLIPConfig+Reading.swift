import VLFiles
import VLIO
extension CLIPVisionConfig {
    /// From a `vision_config` object or a standalone `clip_vision_model` config; missing fields
    /// keep `defaults`.
    public init(_ r: ConfigReader, defaults: CLIPVisionConfig = CLIPVisionConfig()) throws {
        self = defaults
        hiddenSize = try r.int("hidden_size", hiddenSize)
        intermediateSize = try r.int("intermediate_size", intermediateSize)
        numHiddenLayers = try r.int("num_hidden_layers", numHiddenLayers)
        numAttentionHeads = try r.int("num_attention_heads", numAttentionHeads)
        numChannels = try r.int("num_channels", numChannels)
        imageSize = try r.int("image_size", imageSize)
        patchSize = try r.int("patch_size", patchSize)
        hiddenAct = try r.string("hidden_act", hiddenAct)
        layerNormEps = try r.float("layer_norm_eps", layerNormEps)
        projectionDim = try r.int("projection_dim", projectionDim)
        guard patchSize > 0, imageSize % patchSize == 0 else {
            throw ConfigError("\(r.source): image_size \(imageSize) is not a multiple of patch_size \(patchSize)")
        }
        guard numAttentionHeads > 0, hiddenSize % numAttentionHeads == 0 else {
            throw ConfigError("\(r.source): hidden_size \(hiddenSize) is not divisible by \(numAttentionHeads) heads")
        }
    }
}

extension CLIPTextConfig {
    public init(_ r: ConfigReader) throws {
        self.init()
        vocabSize = try r.int("vocab_size", vocabSize)
        hiddenSize = try r.int("hidden_size", hiddenSize)
        intermediateSize = try r.int("intermediate_size", intermediateSize)
        numHiddenLayers = try r.int("num_hidden_layers", numHiddenLayers)
        numAttentionHeads = try r.int("num_attention_heads", numAttentionHeads)
        maxPositionEmbeddings = try r.int("max_position_embeddings", maxPositionEmbeddings)
        hiddenAct = try r.string("hidden_act", hiddenAct)
        layerNormEps = try r.float("layer_norm_eps", layerNormEps)
        projectionDim = try r.int("projection_dim", projectionDim)
        padTokenId = try r.int("pad_token_id", padTokenId)
        bosTokenId = try r.int("bos_token_id", bosTokenId)
        eosTokenId = try r.int("eos_token_id", eosTokenId)
        guard numAttentionHeads > 0, hiddenSize % numAttentionHeads == 0 else {
            throw ConfigError("\(r.source): hidden_size \(hiddenSize) is not divisible by \(numAttentionHeads) heads")
        }
    }
}

extension CLIPConfig {
    /// From a `clip` config (`text_config` + `vision_config`).
    public init(_ r: ConfigReader) throws {
        let type = try r.string("model_type", "clip")
        guard type == "clip" else {
            throw ConfigError("\(r.source): model_type is \"\(type)\", expected \"clip\"")
        }
        self.init()
        projectionDim = try r.int("projection_dim", projectionDim)
        logitScaleInitValue = try r.float("logit_scale_init_value", logitScaleInitValue)
        text = try r.sub("text_config").map(CLIPTextConfig.init) ?? CLIPTextConfig()
        vision = try r.sub("vision_config").map { try CLIPVisionConfig($0) } ?? CLIPVisionConfig()
    }
}
