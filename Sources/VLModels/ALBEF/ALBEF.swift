import VLFiles
import VLIO
import VLNN
import VLTensor

// ALBEF (Li et al. 2021, "Align before Fuse"): a ViT image encoder and a BERT text encoder are first
// aligned by contrastive learning on their [CLS] projections, then fused by the upper BERT layers,
// which cross-attend to the image. Names as ALBEF's `model_pretrain.py`.

/// ALBEF's shape: a ViT, a BERT whose layers from `fusionLayer` on are multimodal, and the width
/// of the shared contrastive space.
public struct ALBEFConfig: Equatable {
    public var vision = ALBEFVisionConfig()
    public var bert = BertConfig()
    public var fusionLayer = 6
    public var embedDim = 256
    /// Initial contrastive temperature.
    public var temperature: Float = 0.07

    public init() {}

    /// ALBEF's `config_bert.json` (BERT plus `fusion_layer`, `encoder_width` = the ViT's width).
    public init(bert r: ConfigReader, vision: ALBEFVisionConfig = ALBEFVisionConfig(), embedDim: Int = 256) throws {
        self.init()
        self.vision = vision
        self.embedDim = embedDim
        bert = try BertConfig(r)
        fusionLayer = try r.int("fusion_layer", fusionLayer)
        let width = try r.int("encoder_width", vision.hiddenSize)
        guard width == vision.hiddenSize else {
            throw ConfigError(
                "\(r.source): encoder_width \(width) differs from the image encoder's width \(vision.hiddenSize)")
        }
    }
}

public final class ALBEF: Module {
    public let visual_encoder: VisionTransformer
    public let text_encoder: ALBEFBertForMaskedLM
    public let vision_proj: Linear
    public let text_proj: Linear
    public let itm_head: Linear
    public let temp: Parameter
    public let config: ALBEFConfig

    public init(_ c: ALBEFConfig) throws {
        config = c
        visual_encoder = VisionTransformer(c.vision)
        text_encoder = try ALBEFBertForMaskedLM(c.bert, fusionLayer: c.fusionLayer, encoderWidth: c.vision.hiddenSize)
        vision_proj = Linear(c.vision.hiddenSize, c.embedDim)
        text_proj = Linear(c.bert.hiddenSize, c.embedDim)
        itm_head = Linear(c.bert.hiddenSize, 2)
        temp = Parameter(Tensor.scalar(c.temperature))
    }

    /// pixels [B, 3, H, W] → image embeddings [B, 1 + patches, width].
    public func imageEmbeds(_ pixels: Tensor) -> Tensor { visual_encoder.features(pixels) }

    /// The image's [CLS] in the contrastive space, L2-normalised [B, embedDim].
    public func imageFeature(_ imageEmbeds: Tensor) -> Tensor { vision_proj(imageEmbeds.select(1, 0)).l2Normalized() }

    /// The text layers alone: ids [B, L], attentionMask [B, L] → [B, L, hidden].
    public func textEmbeds(ids: Tensor, attentionMask: Tensor) -> Tensor {
        text_encoder.bert.text(ids, attentionMask: attentionMask)
    }

    /// The text's [CLS] in the contrastive space, L2-normalised [B, embedDim].
    public func textFeature(_ textEmbeds: Tensor) -> Tensor { text_proj(textEmbeds.select(1, 0)).l2Normalized() }

    /// ITM: the fusion layers on text embeddings and image embeddings; the head on the fused [CLS]
    /// → logits [B, 2] (no match, match).
    public func matchingLogits(textEmbeds: Tensor, attentionMask: Tensor, image: Tensor) -> Tensor {
        captured(
            itm_head(text_encoder.bert.fusion(textEmbeds, attentionMask: attentionMask, image: image).select(1, 0)))
    }

    /// MLM: masked ids through all layers with the image → logits [B, L, vocab].
    public func maskedLMLogits(ids: Tensor, attentionMask: Tensor, image: Tensor) -> Tensor {
        text_encoder.mlmLogits(ids, attentionMask: attentionMask, image: image)
    }

    /// The learned temperature, clamped into ALBEF's [0.001, 0.5] first (without a gradient).
    public func temperature() -> Tensor {
        let v = temp.value.item()
        if v < 0.001 || v > 0.5 { temp.value = Tensor.scalar(Swift.min(Swift.max(v, 0.001), 0.5)) }
        return temp.value
    }

    /// The EMA teacher of momentum distillation: a deep copy with the same weights, frozen, in
    /// evaluation mode (ALBEF's `visual_encoder_m`, `text_encoder_m`, `vision_proj_m`, `text_proj_m`).
    public func momentumCopy() throws -> ALBEF {
        let copy = try Init.skipping { try ALBEF(config) }
        try copy.load(stateDict: stateDict().mapValues { $0.clone().detach() })
        copy.freeze()
        copy.eval()
        return copy
    }

    /// Loads an ALBEF state dict by name, strictly, leaving out what a pretraining checkpoint holds
    /// beside the model: the momentum copies (`*_m.*`), the feature queues and the tied decoder.
    public func load(checkpoint state: [String: Tensor]) throws {
        try load(stateDict: state.filter { !ALBEF.isAuxiliaryKey($0.key) })
    }

    static func isAuxiliaryKey(_ key: String) -> Bool {
        let first = key.split(separator: ".").first.map(String.init) ?? key
        return first.hasSuffix("_m") || ["image_queue", "text_queue", "queue_ptr", "idx_queue"].contains(first)
            || key.hasPrefix("text_encoder.cls.predictions.decoder.") || key.hasSuffix("position_ids")
    }
}
