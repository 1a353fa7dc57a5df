import Foundation

/// LLaMA `config.json` as transformers 5 writes it (the inverse of the reader).
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
