import Foundation
import VLFiles

/// `config.json` objects as transformers 5 writes them, the inverse of the readers: a CLIP that VLKit
/// trains loads in VLKit and in transformers.
extension CLIPVisionConfig {
    public var jsonObject: [String: Any] {
        [
            "model_type": "clip_vision_model", "hidden_size": hiddenSize, "intermediate_size": intermediateSize,
            "num_hidden_layers": numHiddenLayers, "num_attention_heads": numAttentionHeads, "num_channels": numChannels,
            "image_size": imageSize, "patch_size": patchSize, "hidden_act": hiddenAct,
            "layer_norm_eps": decimal(layerNormEps),
            "projection_dim": projectionDim, "attention_dropout": 0.0, "initializer_factor": 1.0,
            "initializer_range": 0.02,
        ]
    }
}

extension CLIPTextConfig {
    public var jsonObject: [String: Any] {
        [
            "model_type": "clip_text_model", "vocab_size": vocabSize, "hidden_size": hiddenSize,
            "intermediate_size": intermediateSize,
            "num_hidden_layers": numHiddenLayers, "num_attention_heads": numAttentionHeads,
            "max_position_embeddings": maxPositionEmbeddings, "hidden_act": hiddenAct,
            "layer_norm_eps": decimal(layerNormEps),
            "projection_dim": projectionDim, "pad_token_id": padTokenId, "bos_token_id": bosTokenId,
            "eos_token_id": eosTokenId,
            "attention_dropout": 0.0, "initializer_factor": 1.0, "initializer_range": 0.02,
        ]
    }
}

extension CLIPConfig {
    public var jsonObject: [String: Any] {
        [
            "architectures": ["CLIPModel"], "model_type": "clip", "dtype": "float32", "projection_dim": projectionDim,
            "logit_scale_init_value": decimal(logitScaleInitValue), "initializer_factor": 1.0,
            "text_config": text.jsonObject, "vision_config": vision.jsonObject,
        ]
    }
}
