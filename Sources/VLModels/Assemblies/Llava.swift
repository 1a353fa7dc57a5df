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
            multi_modal_projector = MLPProjector(inputSize: vision_tower.featureSize, outputSize: c.text.hiddenSize,
                                                 activation: try Activation(name: c.projectorHiddenAct), bias: c.projectorBias)
        case .linear:
            multi_modal_projector = LinearProjector(inputSize: vision_tower.featureSize, outputSize: c.text.hiddenSize,
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
        try embeddingsWithImages(language_model, ids: ids, imageTokenId: config.imageTokenId, features: pixels.map(imageFeatures))
    }
}

/// Token embeddings of `ids` [1, L] with every image-token position replaced, in order, by one row
/// of the images' features [I, tokens, hidden] (LLaVA, mPLUG-Owl).
func embeddingsWithImages(_ lm: LanguageModel, ids: [Int], imageTokenId: Int, features: Tensor?) throws -> Tensor {
    let slots = ids.indices.filter { ids[$0] == imageTokenId }
    let textEmbeds = lm.embed(Tensor(ints: ids.map { $0 == imageTokenId ? 0 : $0 }, shape: [1, ids.count]))
    guard let features else {
        if slots.isEmpty { return textEmbeds }
        throw ModelInputError("the prompt has \(slots.count) image tokens but no image was given")
    }
    let rows = features.shape[0] * features.shape[1]
    guard slots.count == rows else {
        throw ModelInputError("the prompt has \(slots.count) image tokens; \(features.shape[0]) image(s) give \(rows) features "
            + "(\(features.shape[1]) each)")
    }
    return spliceRows(textEmbeds, features.reshape([1, rows, -1]), at: slots)
}

/// Replaces rows `slots` (in order) of `base` [1, L, C] by the rows of `inserted` [1, slots.count, C].
func spliceRows(_ base: Tensor, _ inserted: Tensor, at slots: [Int]) -> Tensor {
    var pieces: [Tensor] = []
    var cursor = 0, taken = 0
    var i = 0
    while i < slots.count {
        var j = i
        while j + 1 < slots.count && slots[j + 1] == slots[j] + 1 { j += 1 }  // a run of consecutive slots
        if slots[i] > cursor { pieces.append(base.narrow(1, start: cursor, length: slots[i] - cursor)) }
        let run = j - i + 1
        pieces.append(inserted.narrow(1, start: taken, length: run))
        taken += run
        cursor = slots[j] + 1
        i = j + 1
    }
    if cursor < base.shape[1] { pieces.append(base.narrow(1, start: cursor, length: base.shape[1] - cursor)) }
    return pieces.count == 1 ? pieces[0] : cat(pieces, dim: 1)
}

/// The names LLaVA checkpoints use in the wild, mapped onto the hub layout our modules follow.
public func llavaKeyMap(_ key: String) -> String {
    var k = key
    for (from, to) in [("model.language_model.", "language_model.model."), ("model.vision_tower.", "vision_tower."),
                       ("model.multi_modal_projector.", "multi_modal_projector."), ("lm_head.", "language_model.lm_head.")]
    where k.hasPrefix(from) {
        k = to + k.dropFirst(from.count)
        break
    }
    if k.hasPrefix("vision_tower.") && !k.hasPrefix("vision_tower.vision_model.") {
        k = "vision_tower.vision_model." + k.dropFirst("vision_tower.".count)
    }
    return k
}

/// Input that does not fit the model (image count, prompt length).
public struct ModelInputError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
