import VLFiles
import VLIO
import VLNN
import VLTensor

// mPLUG-Owl (Ye et al. 2023) with the released `MplugOwlForConditionalGeneration`'s names:
// `vision_model.*` (the released ViT, or a CLIP vision transformer for recipe-built models),
// `query_tokens` [1, Q, abstractor hidden], `abstractor.*` (MPlugOwlVisualAbstractorModel) and
// `language_model.*` (LLaMA). Each image gives Q + 1 tokens (the queries then `vit_eos`) that
// take the places of the prompt's image tokens, as the released processor expands `<image>`.

public final class MPlugOwlForConditionalGeneration: Module {
    public let vision_model: any VisionEncoder
    public let query_tokens: Parameter
    public let abstractor: MPlugOwlVisualAbstractorModel
    public let language_model: LlamaForCausalLM
    public let config: MPlugOwlConfig

    public init(_ c: MPlugOwlConfig) throws {
        guard c.abstractor.hiddenSize == c.vision.hiddenSize else {
            throw ConfigError(
                "mPLUG-Owl: the abstractor's width \(c.abstractor.hiddenSize) must equal the vision tower's "
                    + "\(c.vision.hiddenSize) (its keys and values read the vision tokens unprojected)")
        }
        config = c
        switch c.visionTower {
        case .mplugOwl: vision_model = MPlugOwlVisionModel(c.vision)
        case .clip: vision_model = try CLIPVisionTransformer(c.vision)
        }
        query_tokens = Parameter(Init.normal([1, c.abstractor.numQueryTokens, c.abstractor.hiddenSize], std: 0.02))
        abstractor = MPlugOwlVisualAbstractorModel(c.abstractor, outputWidth: c.text.hiddenSize)
        language_model = try LlamaForCausalLM(c.text)
    }

    /// Image tokens per image: the queries and `vit_eos`.
    public var tokensPerImage: Int { config.abstractor.numQueryTokens + 1 }

    /// pixels [B, 3, H, W] → every token of the vision tower after its post-layernorm [B, 1 + patches, vision hidden].
    public func visionFeatures(_ pixels: Tensor) -> Tensor { vision_model.features(pixels) }

    /// pixels → the abstractor's outputs in the language model's width [B, Q + 1, text hidden].
    public func imageFeatures(_ pixels: Tensor) -> Tensor {
        let image = visionFeatures(pixels), q = query_tokens.value
        return abstractor(queries: q.expand([image.shape[0], q.shape[1], q.shape[2]]), image: image)
    }

    /// Token embeddings with the image tokens of `ids` replaced by the images' features.
    public func inputEmbeddings(ids: [Int], pixels: Tensor?) throws -> Tensor {
        try embeddingsWithImages(
            language_model, ids: ids, imageTokenId: config.imageTokenId, features: pixels.map(imageFeatures))
    }
}

/// A CLIP vision transformer as mPLUG-Owl reads it: every token through `post_layernorm`.
extension CLIPVisionTransformer: VisionEncoder {
    public var featureSize: Int { config.hiddenSize }
    public var tokensPerImage: Int { config.numPositions }
    public func features(_ pixels: Tensor) -> Tensor { post_layernorm(self(pixels).lastHiddenState) }
}
