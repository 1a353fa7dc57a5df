import Foundation
import VLFiles

/// `config.json` objects as transformers 5 writes them, the inverse of the readers: a CLIP that VLKit
/// trains loads in VLKit and in transformers.
extension CLIPVisionConfig {
    public var jsonObject: [String: Any] {
        Self.fields.jsonObject(of: self).merging([
            "model_type": "clip_vision_model", "attention_dropout": 0.0, "initializer_factor": 1.0,
            "initializer_range": 0.02,
        ]) { _, new in new }
    }
}

extension CLIPTextConfig {
    public var jsonObject: [String: Any] {
        Self.fields.jsonObject(of: self).merging([
            "model_type": "clip_text_model", "attention_dropout": 0.0, "initializer_factor": 1.0,
            "initializer_range": 0.02,
        ]) { _, new in new }
    }
}

extension CLIPConfig {
    public var jsonObject: [String: Any] {
        Self.fields.jsonObject(of: self).merging([
            "architectures": ["CLIPModel"], "model_type": "clip", "dtype": "float32", "initializer_factor": 1.0,
            "text_config": text.jsonObject, "vision_config": vision.jsonObject,
        ]) { _, new in new }
    }
}
