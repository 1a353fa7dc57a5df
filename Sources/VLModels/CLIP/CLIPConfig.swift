import VLNN

/// The vision tower's sizes (HF `CLIPVisionConfig`).
public struct CLIPVisionConfig: Equatable {
    public var hiddenSize = 768
    public var intermediateSize = 3072
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var numChannels = 3
    public var imageSize = 224
    public var patchSize = 32
    public var hiddenAct = "quick_gelu"
    public var layerNormEps: Float = 1e-5
    public var projectionDim = 512

    public init() {}

    public var patchesPerSide: Int { imageSize / patchSize }
    /// Patches plus the class token.
    public var numPositions: Int { patchesPerSide * patchesPerSide + 1 }
}

/// The text tower's sizes (HF `CLIPTextConfig`).
public struct CLIPTextConfig: Equatable {
    public var vocabSize = 49408
    public var hiddenSize = 512
    public var intermediateSize = 2048
    public var numHiddenLayers = 12
    public var numAttentionHeads = 8
    public var maxPositionEmbeddings = 77
    public var hiddenAct = "quick_gelu"
    public var layerNormEps: Float = 1e-5
    public var projectionDim = 512
    public var padTokenId = 1
    public var bosTokenId = 49406
    public var eosTokenId = 49407

    public init() {}
}

/// HF `CLIPConfig`: both towers plus the shared projection size and initial temperature.
public struct CLIPConfig: Equatable {
    public var text = CLIPTextConfig()
    public var vision = CLIPVisionConfig()
    public var projectionDim = 512
    public var logitScaleInitValue: Float = 2.6592

    public init() {}
}
