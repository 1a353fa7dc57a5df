import VLFiles
import VLIO

/// The released `config.json` (`MplugOwlConfig`, model_type "mplug-owl"): `vision_config`,
/// `visual_abstractor_config`, `text_config` (a LLaMA) and `num_query_tokens`.
public struct MPlugOwlConfig: Equatable {
    /// Which vision tower `vision_model` is: the released one (`vision_config.model_type`
    /// "mplug_owl_vision_model", also when absent) or a CLIP vision transformer
    /// ("clip_vision_model"), which the recipes assemble from a trained CLIP.
    public enum VisionTower: String, Equatable {
        case mplugOwl = "mplug_owl_vision_model"
        case clip = "clip_vision_model"
    }

    public var visionTower = VisionTower.clip
    public var vision = CLIPVisionConfig()
    public var abstractor = MPlugOwlAbstractorConfig()
    public var text = LlamaConfig()
    /// The id that marks image positions in a prompt; the released processor's is -1 (the
    /// `image_token_index` field is VLKit's, absent from released configs).
    public var imageTokenId = -1

    public init() {}

    /// The released model's conversation prompt starts with this line.
    public static let systemPrompt =
        "The following is a conversation between a curious human and AI assistant. "
        + "The assistant gives helpful, detailed, and polite answers to the user's questions."

    /// `MplugOwlVisionConfig`'s defaults (ViT-L/14 at 224).
    public static var releasedVisionDefaults: CLIPVisionConfig {
        var v = CLIPVisionConfig()
        (v.hiddenSize, v.intermediateSize, v.numHiddenLayers, v.numAttentionHeads) = (1024, 4096, 24, 16)
        (v.patchSize, v.layerNormEps, v.projectionDim) = (14, 1e-6, 768)
        return v
    }
}

extension MPlugOwlConfig {
    public init(_ r: ConfigReader) throws {
        self.init()
        let type = try r.string("model_type", "mplug-owl")
        guard type == "mplug-owl" else {
            throw ConfigError("\(r.source): model_type is \"\(type)\", expected \"mplug-owl\"")
        }
        guard let v = try r.sub("vision_config"), let a = try r.sub("visual_abstractor_config"),
            let t = try r.sub("text_config")
        else {
            throw ConfigError(
                "\(r.source): an mplug-owl config needs vision_config, visual_abstractor_config and text_config")
        }
        let towerType = try v.string("model_type", VisionTower.mplugOwl.rawValue)
        guard let tower = VisionTower(rawValue: towerType) else {
            throw ConfigError(
                "\(v.source): model_type is \"\(towerType)\"; expected mplug_owl_vision_model or clip_vision_model")
        }
        visionTower = tower
        vision = try CLIPVisionConfig(v, defaults: tower == .clip ? CLIPVisionConfig() : Self.releasedVisionDefaults)
        text = try LlamaConfig(t)
        abstractor = try MPlugOwlAbstractorConfig(a, queries: r.int("num_query_tokens", abstractor.numQueryTokens))
        imageTokenId = try r.int("image_token_index", imageTokenId)
        guard try a.int("encoder_hidden_size", vision.hiddenSize) == vision.hiddenSize else {
            throw ConfigError(
                "\(a.source): encoder_hidden_size must equal the vision tower's hidden_size \(vision.hiddenSize)")
        }
    }

    public var jsonObject: [String: Any] {
        var textObject = text.jsonObject
        textObject["architectures"] = nil
        textObject["dtype"] = nil
        var visionObject = vision.jsonObject
        visionObject["model_type"] = visionTower.rawValue
        return [
            "architectures": ["MplugOwlForConditionalGeneration"], "model_type": "mplug-owl", "dtype": "float32",
            "image_token_index": imageTokenId, "num_query_tokens": abstractor.numQueryTokens,
            "visual_abstractor_config": abstractor.jsonObject(encoderHiddenSize: vision.hiddenSize),
            "text_config": textObject, "vision_config": visionObject,
        ]
    }
}

extension MPlugOwlAbstractorConfig {
    init(_ a: ConfigReader, queries: Int) throws {
        self.init()
        hiddenSize = try a.int("hidden_size", hiddenSize)
        numHiddenLayers = try a.int("num_hidden_layers", numHiddenLayers)
        numAttentionHeads = try a.int("num_attention_heads", numAttentionHeads)
        intermediateSize = try a.int("intermediate_size", resolvedIntermediateSize)
        layerNormEps = try a.float("layer_norm_eps", layerNormEps)
        numQueryTokens = queries
        guard numAttentionHeads > 0, hiddenSize % numAttentionHeads == 0 else {
            throw ConfigError("\(a.source): hidden_size \(hiddenSize) is not divisible by \(numAttentionHeads) heads")
        }
    }

    func jsonObject(encoderHiddenSize: Int) -> [String: Any] {
        [
            "model_type": "mplug_owl_visual_abstract", "hidden_size": hiddenSize, "num_hidden_layers": numHiddenLayers,
            "num_attention_heads": numAttentionHeads, "intermediate_size": resolvedIntermediateSize,
            "layer_norm_eps": decimal(layerNormEps), "encoder_hidden_size": encoderHiddenSize,
        ]
    }
}
