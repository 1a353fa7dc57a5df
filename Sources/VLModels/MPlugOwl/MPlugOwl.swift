import VLIO
import VLNN
import VLTensor

// mPLUG-Owl (Ye et al. 2023): a ViT, the visual abstractor (learned queries that cross-attend to
// the ViT's tokens) and a LLaMA; the abstractor's outputs take the places of the prompt's image
// tokens. Top-level names as the released `MplugOwlForConditionalGeneration` (`vision_model.*`,
// `abstractor.*`, `language_model.*`); the vision tower inside is CLIP's, the abstractor's
// `query_embeds` and `visual_fc` keep mPLUG-Owl's names, its layers are ours (VisualAbstractor).

/// mPLUG-Owl's `visual_abstractor_config` (the feed-forward width is always 4 × hidden here).
public struct MPlugOwlAbstractorConfig: Equatable {
    public var hiddenSize = 1024
    public var numHiddenLayers = 6
    public var numAttentionHeads = 16
    public var numQueryTokens = 64

    public init() {}
}

public struct MPlugOwlConfig: Equatable {
    public var vision = CLIPVisionConfig()
    public var abstractor = MPlugOwlAbstractorConfig()
    public var text = LlamaConfig()
    public var imageTokenId = 32000

    public init() {}
}

public final class MPlugOwlForConditionalGeneration: Module {
    public let vision_model: CLIPVisionTransformer
    public let abstractor: VisualAbstractor
    public let language_model: LlamaForCausalLM
    public let config: MPlugOwlConfig

    public init(_ c: MPlugOwlConfig) throws {
        config = c
        vision_model = try CLIPVisionTransformer(c.vision)
        let a = c.abstractor
        abstractor = VisualAbstractor(imageWidth: c.vision.hiddenSize, dim: a.hiddenSize, outputWidth: c.text.hiddenSize,
                                      queries: a.numQueryTokens, layers: a.numHiddenLayers, heads: a.numAttentionHeads)
        language_model = try LlamaForCausalLM(c.text)
    }

    /// Image tokens per image: the abstractor's queries.
    public var tokensPerImage: Int { config.abstractor.numQueryTokens }

    /// pixels [B, 3, H, W] → every token of the ViT's last layer through its post-layernorm, as
    /// mPLUG-Owl's vision model returns them: [B, 1 + patches, vision hidden].
    public func visionFeatures(_ pixels: Tensor) -> Tensor { vision_model.post_layernorm(vision_model(pixels).lastHiddenState) }

    /// pixels → the abstractor's outputs in the language model's width [B, queries, text hidden].
    public func imageFeatures(_ pixels: Tensor) -> Tensor { abstractor(visionFeatures(pixels)) }

    /// Token embeddings with the image tokens of `ids` replaced by the images' features.
    public func inputEmbeddings(ids: [Int], pixels: Tensor?) throws -> Tensor {
        try embeddingsWithImages(language_model, ids: ids, imageTokenId: config.imageTokenId, features: pixels.map(imageFeatures))
    }
}

extension MPlugOwlConfig {
    public var jsonObject: [String: Any] {
        var textObject = text.jsonObject
        textObject["architectures"] = nil
        textObject["dtype"] = nil
        let a = abstractor
        return ["architectures": ["MplugOwlForConditionalGeneration"], "model_type": "mplug-owl", "dtype": "float32",
                "image_token_index": imageTokenId, "num_query_tokens": a.numQueryTokens,
                "visual_abstractor_config": ["model_type": "mplug_owl_visual_abstract", "hidden_size": a.hiddenSize,
                                             "num_hidden_layers": a.numHiddenLayers, "num_attention_heads": a.numAttentionHeads,
                                             "intermediate_size": 4 * a.hiddenSize, "layer_norm_eps": 1e-6,
                                             "encoder_hidden_size": vision.hiddenSize],
                "text_config": textObject, "vision_config": vision.jsonObject]
    }

    public init(_ r: ConfigReader) throws {
        self.init()
        let type = try r.string("model_type", "mplug-owl")
        guard type == "mplug-owl" else { throw ConfigError("\(r.source): model_type is \"\(type)\", expected \"mplug-owl\"") }
        guard let v = try r.sub("vision_config"), let a = try r.sub("visual_abstractor_config"), let t = try r.sub("text_config") else {
            throw ConfigError("\(r.source): an mplug-owl config needs vision_config, visual_abstractor_config and text_config")
        }
        vision = try CLIPVisionConfig(v)
        text = try LlamaConfig(t)
        abstractor.hiddenSize = try a.int("hidden_size", abstractor.hiddenSize)
        abstractor.numHiddenLayers = try a.int("num_hidden_layers", abstractor.numHiddenLayers)
        abstractor.numAttentionHeads = try a.int("num_attention_heads", abstractor.numAttentionHeads)
        abstractor.numQueryTokens = try r.int("num_query_tokens", abstractor.numQueryTokens)
        imageTokenId = try r.int("image_token_index", imageTokenId)
        guard try a.int("intermediate_size", 4 * abstractor.hiddenSize) == 4 * abstractor.hiddenSize else {
            throw ConfigError("\(a.source): intermediate_size must be 4 × hidden_size (\(4 * abstractor.hiddenSize))")
        }
    }
}
