import Foundation
import VLNN
import VLTensor

/// HF `LlavaConfig`: a CLIP vision tower, a projector and a LLaMA-family language model.
public struct LlavaConfig: Equatable {
    public var vision = CLIPVisionConfig()
    public var text = LlamaConfig()
    public var imageTokenId = 32000
    public var projectorHiddenAct = "gelu"
    public var projectorBias = true
    /// LLaVA-1.5's two-layer MLP, or LLaVA-1.0's single linear layer.
    public var projector = Projector.mlp
    public var selection = VisionFeatureSelection()
    /// Set for the original LLaVA repository's checkpoints (`LlavaLlamaForCausalLM`, see
    /// LlavaOriginal.swift): the vision tower's own directory, named by `mm_vision_tower`.
    public var visionTowerDirectory: URL?
    /// Images padded to a square with the mean colour first (`image_aspect_ratio: pad`).
    public var padImagesToSquare = false

    public enum Projector: Equatable { case mlp, linear }

    public init() {}
}

/// HF `LlavaForConditionalGeneration`, in the hub's key layout (`vision_tower.vision_model.*`,
/// `multi_modal_projector.*`, `language_model.model.*`, `language_model.lm_head.*`);
/// `llavaKeyMap` maps the other layouts onto it.
public final class LlavaForConditionalGeneration: Module {
    public let vision_tower: CLIPVisionModel
    public let multi_modal_projector: any Connector
    public let language_model: LlamaForCausalLM
    public let config: LlavaConfig

    public init(_ c: LlavaConfig) throws {
        config = c
        vision_tower = try CLIPVisionModel(c.vision, selection: c.selection)
        switch c.projector {
        case .mlp:
            multi_modal_projector = MLPProjector(
                inputSize: vision_tower.featureSize, outputSize: c.text.hiddenSize,
                activation: try Activation(name: c.projectorHiddenAct), bias: c.projectorBias)
        case .linear:
            multi_modal_projector = LinearProjector(
                inputSize: vision_tower.featureSize, outputSize: c.text.hiddenSize,
                bias: c.projectorBias)
        }
        language_model = try LlamaForCausalLM(c.text)
    }

    /// Image tokens per image after the processor expands `<image>`.
    public var tokensPerImage: Int { vision_tower.tokensPerImage }

    /// pixels [I, 3, H, W] → projected features [I, tokensPerImage, text hidden].
    public func imageFeatures(_ pixels: Tensor) -> Tensor { multi_modal_projector(vision_tower.features(pixels)) }

    /// Token embeddings with every image-token position replaced, in order, by one row of the
    /// images' features. ids [1, L] with exactly `images × tokensPerImage` image tokens (whose id
    /// may lie outside the vocabulary, as the original LLaVA's -200 does).
    public func inputEmbeddings(ids: [Int], pixels: Tensor?) throws -> Tensor {
        try embeddingsWithImages(
            language_model, ids: ids, imageTokenId: config.imageTokenId, features: pixels.map(imageFeatures))
    }
}

/// The names LLaVA checkpoints use in the wild, mapped onto the hub layout our modules follow.
public func llavaKeyMap(_ key: String) -> String {
    var k = key
    for (from, to) in [
        ("model.language_model.", "language_model.model."), ("model.vision_tower.", "vision_tower."),
        ("model.multi_modal_projector.", "multi_modal_projector."), ("lm_head.", "language_model.lm_head."),
    ]
    where k.hasPrefix(from) {
        k = to + k.dropFirst(from.count)
        break
    }
    if k.hasPrefix("vision_tower.") && !k.hasPrefix("vision_tower.vision_model.") {
        k = "vision_tower.vision_model." + k.dropFirst("vision_tower.".count)
    }
    return k
}
