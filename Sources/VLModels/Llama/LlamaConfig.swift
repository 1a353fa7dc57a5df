/// HF `LlamaConfig` (also Mistral, Qwen2 and Vicuna checkpoints, which share the architecture).
public struct LlamaConfig: Equatable {
    public var vocabSize = 32000
    public var hiddenSize = 4096
    public var intermediateSize = 11008
    public var numHiddenLayers = 32
    public var numAttentionHeads = 32
    public var numKeyValueHeads: Int? = nil
    public var headDim: Int? = nil
    public var hiddenAct = "silu"
    public var maxPositionEmbeddings = 2048
    public var rmsNormEps: Float = 1e-6
    public var rope = RopeScaling()
    /// Biases on q/k/v (LLaMA's `attention_bias`; always on for Qwen2).
    public var attentionBias = false
    /// Bias on o_proj (LLaMA's `attention_bias`; off for Qwen2).
    public var outputProjectionBias = false
    public var mlpBias = false
    public var tieWordEmbeddings = false
    public var bosTokenId: Int? = 1
    public var eosTokenIds: [Int] = [2]
    public var padTokenId: Int? = nil

    public init() {}

    public var kvHeads: Int { numKeyValueHeads ?? numAttentionHeads }
    public var resolvedHeadDim: Int { headDim ?? hiddenSize / numAttentionHeads }
}

/// Rotary embedding parameters: `rope_theta` and the `rope_scaling` / `rope_parameters` types
/// transformers implements for LLaMA-family models.
public struct RopeScaling: Equatable {
    public enum Kind: String { case `default`, linear, dynamic, llama3 }
    public var kind: Kind = .default
    public var theta: Float = 10000
    public var factor: Float = 1
    public var lowFrequencyFactor: Float = 1
    public var highFrequencyFactor: Float = 4
    public var originalMaxPositions: Int = 8192

    public init() {}
}
