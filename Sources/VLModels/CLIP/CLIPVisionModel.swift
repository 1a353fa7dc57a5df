import VLNN
import VLTensor

/// Which hidden states of a vision tower become the image features (LLaVA's
/// `vision_feature_layer`, one index or several concatenated, and `vision_feature_select_strategy`).
public struct VisionFeatureSelection: Equatable {
    public var layers: [Int] = [-2]
    /// "default" drops the class token, "full" keeps it.
    public var keepClassToken = false

    public init(layers: [Int] = [-2], keepClassToken: Bool = false) {
        self.layers = layers
        self.keepClassToken = keepClassToken
    }
}

/// How many feature tokens one image gives: patches, plus the class token when it is kept.
/// The processor (expanding `<image>`) and the models both use this one function.
public func imageTokenCount(_ config: CLIPVisionConfig, keepClassToken: Bool) -> Int {
    config.patchesPerSide * config.patchesPerSide + (keepClassToken ? 1 : 0)
}

/// HF `CLIPVisionModel` (`vision_model.*`) used as the vision encoder of an assembly.
public final class CLIPVisionModel: Module, VisionEncoder {
    public let vision_model: CLIPVisionTransformer
    public var selection: VisionFeatureSelection

    public init(_ c: CLIPVisionConfig, selection: VisionFeatureSelection = VisionFeatureSelection()) throws {
        vision_model = try CLIPVisionTransformer(c)
        self.selection = selection
    }

    public var featureSize: Int { vision_model.config.hiddenSize * selection.layers.count }
    public var tokensPerImage: Int { imageTokenCount(vision_model.config, keepClassToken: selection.keepClassToken) }

    /// pixels [B, 3, H, W] → [B, tokensPerImage, featureSize].
    public func features(_ pixels: Tensor) -> Tensor {
        let states = vision_model(pixels, outputHiddenStates: true).hiddenStates
        let picked = selection.layers.map { states[$0 < 0 ? states.count + $0 : $0] }
        let joined = picked.count == 1 ? picked[0] : cat(picked, dim: -1)
        return selection.keepClassToken ? joined : joined.narrow(1, start: 1, length: joined.shape[1] - 1)
    }
}
