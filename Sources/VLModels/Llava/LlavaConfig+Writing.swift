import Foundation

/// LLaVA `config.json` as transformers 5 writes it (the inverse of the reader).
extension LlavaConfig {
    public var jsonObject: [String: Any] {
        var textObject = text.jsonObject
        textObject["architectures"] = nil
        textObject["dtype"] = nil
        return [
            "architectures": ["LlavaForConditionalGeneration"], "model_type": "llava", "dtype": "float32",
            "image_token_index": imageTokenId, "projector_hidden_act": projectorHiddenAct,
            "multimodal_projector_bias": projectorBias, "tie_word_embeddings": text.tieWordEmbeddings,
            "image_seq_length": imageTokenCount(vision, keepClassToken: selection.keepClassToken),
            "vision_feature_layer": selection.layers.count == 1 ? selection.layers[0] as Any : selection.layers as Any,
            "vision_feature_select_strategy": selection.keepClassToken ? "full" : "default",
            "text_config": textObject, "vision_config": vision.jsonObject,
        ]
    }
}
