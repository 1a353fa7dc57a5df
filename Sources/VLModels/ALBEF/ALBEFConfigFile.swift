import VLFiles
import VLIO

// ALBEF's config.json in VLKit: ALBEF has none, so ours keeps its two files' names. Top level:
// `configs/Pretrain.yaml` (image_res, vision_width, embed_dim, temp, and the pretraining values
// queue_size, momentum, alpha, mlm_probability when a recipe wrote them); `bert_config`: the
// contents of `configs/config_bert.json` (BERT plus fusion_layer and encoder_width);
// `vision_config`: the arguments of ALBEF's `VisionTransformer` (patch_size, depth, num_heads,
// mlp_ratio; its img_size and embed_dim are image_res and vision_width).

extension ALBEFConfig {
    public var jsonObject: [String: Any] {
        [
            "architectures": ["ALBEF"], "model_type": "albef", "image_res": vision.imageSize,
            "vision_width": vision.hiddenSize,
            "embed_dim": embedDim, "temp": decimal(temperature),
            "vision_config": [
                "patch_size": vision.patchSize, "depth": vision.numHiddenLayers, "num_heads": vision.numAttentionHeads,
                "mlp_ratio": vision.mlpRatio, "qkv_bias": true, "layer_norm_eps": decimal(vision.layerNormEps),
            ],
            "bert_config": bertJSONObject,
        ]
    }

    var bertJSONObject: [String: Any] {
        [
            "architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": bert.vocabSize,
            "hidden_size": bert.hiddenSize,
            "num_hidden_layers": bert.numHiddenLayers, "num_attention_heads": bert.numAttentionHeads,
            "intermediate_size": bert.intermediateSize, "hidden_act": bert.hiddenAct,
            "max_position_embeddings": bert.maxPositionEmbeddings,
            "type_vocab_size": bert.typeVocabSize, "layer_norm_eps": decimal(bert.layerNormEps),
            "pad_token_id": bert.padTokenId,
            "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
            "fusion_layer": fusionLayer, "encoder_width": vision.hiddenSize,
        ]
    }

    /// Reads the config.json `jsonObject` writes.
    public init(_ r: ConfigReader) throws {
        let type = try r.string("model_type", "albef")
        guard type == "albef" else { throw ConfigError("\(r.source): model_type is \"\(type)\", expected \"albef\"") }
        guard let bert = try r.sub("bert_config"), let v = try r.sub("vision_config") else {
            throw ConfigError("\(r.source): an albef config needs bert_config and vision_config")
        }
        var vision = ALBEFVisionConfig()
        vision.imageSize = try r.int("image_res", vision.imageSize)
        vision.hiddenSize = try r.int("vision_width", vision.hiddenSize)
        vision.patchSize = try v.int("patch_size", vision.patchSize)
        vision.numHiddenLayers = try v.int("depth", vision.numHiddenLayers)
        vision.numAttentionHeads = try v.int("num_heads", vision.numAttentionHeads)
        vision.mlpRatio = try v.int("mlp_ratio", vision.mlpRatio)
        vision.layerNormEps = try v.float("layer_norm_eps", vision.layerNormEps)
        try self.init(bert: bert, vision: vision, embedDim: r.int("embed_dim", 256))
        temperature = try r.float("temp", temperature)
    }
}
