import Foundation
import VLFiles

// BLIP-2's `config.json` objects as transformers 5 writes them (the inverse of `Blip2Config(_:)`),
// so that a BLIP-2 directory VLKit trains loads in VLKit and in transformers.

extension Blip2VisionConfig {
    public var jsonObject: [String: Any] {
        Self.fields.jsonObject(of: self).merging([
            "model_type": "blip_2_vision_model", "attention_dropout": 0.0, "initializer_range": 1e-10,
        ]) { _, new in new }
    }
}

extension QFormerConfig {
    public var jsonObject: [String: Any] {
        Self.fields.jsonObject(of: self).merging([
            "model_type": "blip_2_qformer", "pad_token_id": 0, "hidden_dropout_prob": 0.0,
            "attention_probs_dropout_prob": 0.0, "initializer_range": 0.02,
        ]) { _, new in new }
    }
}

extension OPTConfig {
    public var jsonObject: [String: Any] {
        var o = Self.fields.jsonObject(of: self)
        (o["architectures"], o["model_type"]) = (["OPTForCausalLM"], "opt")
        o["word_embed_proj_dim"] = wordEmbedProjDim ?? hiddenSize
        return o
    }
}

extension TextDecoderConfig {
    public var jsonObject: [String: Any] {
        var o: [String: Any]
        switch self {
        case .opt(let c): o = c.jsonObject
        case .llama(let c): o = c.jsonObject
        }
        o["architectures"] = nil
        o["dtype"] = nil
        return o
    }
}

extension Blip2Config {
    /// `architecture` is the class the directory holds: "Blip2ForConditionalGeneration" or
    /// "Blip2ForImageTextRetrieval" (whose text_config transformers requires but never builds).
    public func jsonObject(architecture: String) -> [String: Any] {
        var o: [String: Any] = [
            "architectures": [architecture], "model_type": "blip-2", "dtype": "float32",
            "num_query_tokens": numQueryTokens,
            "image_text_hidden_size": imageTextHiddenSize, "initializer_factor": 1.0, "initializer_range": 0.02,
            "use_decoder_only_language_model": true, "vision_config": vision.jsonObject,
            "qformer_config": qformer.jsonObject,
            "text_config": text.jsonObject,
        ]
        if let imageTokenId { o["image_token_index"] = imageTokenId }
        return o
    }
}
