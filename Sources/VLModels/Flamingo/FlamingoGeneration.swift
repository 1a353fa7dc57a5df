import VLNN
import VLTensor

/// A Flamingo model bound to one prompt's images, as a `LanguageModel` the `Generator` decodes
/// with its KV cache. The cross-attention keys and values over the images' latents are computed
/// once; prompt position p sees image `mediaTimes(prompt)[p]`, and every generated token sees
/// the prompt's last image (as open_flamingo's cached media: generated tokens introduce no image).
public final class FlamingoPrompt: Module, LanguageModel {
    public let flamingo: FlamingoLlama
    let media: [Int: MediaKeysValues]
    let promptTimes: [Int]

    /// `features` [1, T, N, Dv] for the T images of a prompt whose `<image>` tokens `mediaLocations` marks.
    public init(_ flamingo: FlamingoLlama, features: Tensor, mediaLocations: [Bool]) {
        self.flamingo = flamingo
        media = noGrad { flamingo.media(features: features) }
        promptTimes = mediaTimes(mediaLocations)
    }

    public var hiddenSize: Int { flamingo.language_model.hiddenSize }
    public var vocabSize: Int { flamingo.language_model.vocabSize }
    public func embed(_ ids: Tensor) -> Tensor { flamingo.language_model.embed(ids) }
    public func logits(_ hidden: Tensor) -> Tensor { flamingo.language_model.logits(hidden) }

    /// One row at consecutive `positions` (a prompt chunk or a new token).
    public func hiddenStates(_ embeddings: Tensor, positions: [Int], cache: KVCache?, keyPadding: Tensor?) -> Tensor {
        precondition(embeddings.shape[0] == 1 && keyPadding == nil, "a Flamingo prompt decodes one row")
        let times = positions.map { $0 < promptTimes.count ? promptTimes[$0] : promptTimes.last ?? 0 }
        return flamingo.hiddenStates(
            embeddings, media: media, textTimes: [times], start: positions.first ?? 0, cache: cache)
    }
}
