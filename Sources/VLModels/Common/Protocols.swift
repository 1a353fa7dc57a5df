import VLNN
import VLTensor

/// A decoder-only language model that can take token embeddings directly, so image features
/// can be spliced into the sequence (LLaVA, BLIP-2, MiniGPT-4).
public protocol LanguageModel: Module {
    var hiddenSize: Int { get }
    var vocabSize: Int { get }
    /// Token ids [B, L] → embeddings [B, L, hidden].
    func embed(_ ids: Tensor) -> Tensor
    /// Embeddings [B, L, hidden] at `positions` (L shared, or B·L per row) → final hidden states.
    /// With a cache, keys/values are appended and attention covers everything stored.
    /// `keyPadding` [B, cache + L]: 1 for real tokens, 0 for padding.
    func hiddenStates(_ embeddings: Tensor, positions: [Int], cache: KVCache?, keyPadding: Tensor?) -> Tensor
    /// Hidden states → vocabulary logits.
    func logits(_ hidden: Tensor) -> Tensor
}

/// Images → a sequence of feature vectors per image, [B, N, featureSize].
public protocol VisionEncoder: Module {
    var featureSize: Int { get }
    /// Number of feature vectors one image yields.
    var tokensPerImage: Int { get }
    func features(_ pixels: Tensor) -> Tensor
}

/// The visual prompt generator between a vision encoder and a language model:
/// features [B, N, Cv] → LLM-ready tokens [B, M, Ct] (projector, Q-Former, resampler, abstractor).
public protocol Connector: Module {
    var outputTokens: (Int) -> Int { get }
    func callAsFunction(_ features: Tensor) -> Tensor
}
