import Foundation

/// `config.json` objects as transformers 5 writes them, the inverse of the readers: a directory
/// VLKit trains loads in VLKit and in transformers.

extension CLIPVisionConfig {
    public var jsonObject: [String: Any] {
        ["model_type": "clip_vision_model", "hidden_size": hiddenSize, "intermediate_size": intermediateSize,
         "num_hidden_layers": numHiddenLayers, "num_attention_heads": numAttentionHeads, "num_channels": numChannels,
         "image_size": imageSize, "patch_size": patchSize, "hidden_act": hiddenAct, "layer_norm_eps": decimal(layerNormEps),
         "projection_dim": projectionDim, "attention_dropout": 0.0, "initializer_factor": 1.0, "initializer_range": 0.02]
    }
}

extension CLIPTextConfig {
    public var jsonObject: [String: Any] {
        ["model_type": "clip_text_model", "vocab_size": vocabSize, "hidden_size": hiddenSize, "intermediate_size": intermediateSize,
         "num_hidden_layers": numHiddenLayers, "num_attention_heads": numAttentionHeads,
         "max_position_embeddings": maxPositionEmbeddings, "hidden_act": hiddenAct, "layer_norm_eps": decimal(layerNormEps),
         "projection_dim": projectionDim, "pad_token_id": padTokenId, "bos_token_id": bosTokenId, "eos_token_id": eosTokenId,
         "attention_dropout": 0.0, "initializer_factor": 1.0, "initializer_range": 0.02]
    }
}

extension CLIPConfig {
    public var jsonObject: [String: Any] {
        ["architectures": ["CLIPModel"], "model_type": "clip", "dtype": "float32", "projection_dim": projectionDim,
         "logit_scale_init_value": decimal(logitScaleInitValue), "initializer_factor": 1.0,
         "text_config": text.jsonObject, "vision_config": vision.jsonObject]
    }
}

extension LlamaConfig {
    public var jsonObject: [String: Any] {
        var o: [String: Any] = [
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "dtype": "float32", "vocab_size": vocabSize,
            "hidden_size": hiddenSize, "intermediate_size": intermediateSize, "num_hidden_layers": numHiddenLayers,
            "num_attention_heads": numAttentionHeads, "num_key_value_heads": kvHeads, "head_dim": resolvedHeadDim,
            "hidden_act": hiddenAct, "max_position_embeddings": maxPositionEmbeddings, "rms_norm_eps": decimal(rmsNormEps),
            "attention_bias": attentionBias, "mlp_bias": mlpBias, "tie_word_embeddings": tieWordEmbeddings,
            "rope_parameters": rope.jsonObject,
            "attention_dropout": 0.0, "initializer_range": 0.02, "pretraining_tp": 1, "use_cache": true,
        ]
        o["bos_token_id"] = bosTokenId ?? NSNull()
        o["eos_token_id"] = eosTokenIds.count == 1 ? eosTokenIds[0] : eosTokenIds
        o["pad_token_id"] = padTokenId ?? NSNull()
        return o
    }
}

extension RopeScaling {
    public var jsonObject: [String: Any] {
        var o: [String: Any] = ["rope_type": kind.rawValue, "rope_theta": decimal(theta)]
        if kind != .default { o["factor"] = decimal(factor) }
        if kind == .llama3 {
            o["low_freq_factor"] = decimal(lowFrequencyFactor)
            o["high_freq_factor"] = decimal(highFrequencyFactor)
            o["original_max_position_embeddings"] = originalMaxPositions
        }
        return o
    }
}

extension LlavaConfig {
    public var jsonObject: [String: Any] {
        var textObject = text.jsonObject
        textObject["architectures"] = nil
        textObject["dtype"] = nil
        return ["architectures": ["LlavaForConditionalGeneration"], "model_type": "llava", "dtype": "float32",
                "image_token_index": imageTokenId, "projector_hidden_act": projectorHiddenAct,
                "multimodal_projector_bias": projectorBias, "tie_word_embeddings": text.tieWordEmbeddings,
                "image_seq_length": imageTokenCount(vision, keepClassToken: selection.keepClassToken),
                "vision_feature_layer": selection.layers.count == 1 ? selection.layers[0] as Any : selection.layers as Any,
                "vision_feature_select_strategy": selection.keepClassToken ? "full" : "default",
                "text_config": textObject, "vision_config": vision.jsonObject]
    }
}

/// A Float as the Double with the same shortest decimal form (1e-05, not 9.99999974737875e-06).
public func decimal(_ f: Float) -> Double { Double("\(f)") ?? Double(f) }
