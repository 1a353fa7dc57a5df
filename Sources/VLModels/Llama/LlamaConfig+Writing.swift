import Foundation
import VLFiles

/// LLaMA `config.json` as transformers 5 writes it (the inverse of the reader).
extension LlamaConfig {
    public var jsonObject: [String: Any] {
        var o = Self.fields.jsonObject(of: self)
        o.merge([
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "dtype": "float32",
            "num_key_value_heads": kvHeads, "head_dim": resolvedHeadDim, "rope_parameters": rope.jsonObject,
            "attention_dropout": 0.0, "initializer_range": 0.02, "pretraining_tp": 1, "use_cache": true,
        ]) { _, new in new }
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
