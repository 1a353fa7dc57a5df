import VLNN
import VLTensor

// Flamingo's connector as open_flamingo implements it (src/helpers.py), with its state-dict
// names: a Perceiver Resampler turning image features into a fixed number of latents, and gated
// cross-attention blocks (tanh gates starting at 0) inserted into a frozen language model.

/// LayerNorm → Linear → GELU → Linear without biases (`0`, `1`, `3` of a Sequential).
public final class FlamingoFeedForward: Module {
    public let norm: LayerNorm
    public let fc1, fc2: Linear

    public init(dim: Int, mult: Int = 4) {
        norm = LayerNorm(dim)
        fc1 = Linear(dim, dim * mult, bias: false)
        fc2 = Linear(dim * mult, dim, bias: false)
    }

    public override func namedChildren() -> [(String, Module)] { [("0", norm), ("1", fc1), ("3", fc2)] }
    public func callAsFunction(_ x: Tensor) -> Tensor { fc2(fc1(norm(x)).gelu()) }
}

/// Latents attend to the concatenation of the media and themselves.
public final class PerceiverAttention: Module {
    public let norm_media, norm_latents: LayerNorm
    public let to_q, to_kv, to_out: Linear
    let heads: Int

    public init(dim: Int, dimHead: Int = 64, heads: Int = 8) {
        norm_media = LayerNorm(dim)
        norm_latents = LayerNorm(dim)
        to_q = Linear(dim, dimHead * heads, bias: false)
        to_kv = Linear(dim, dimHead * heads * 2, bias: false)
        to_out = Linear(dimHead * heads, dim, bias: false)
        self.heads = heads
    }

    /// media [B, N, D], latents [B, L, D] (B = batch × media) → [B, L, D].
    public func callAsFunction(_ media: Tensor, _ latents: Tensor) -> Tensor {
        let l = norm_latents(latents)
        let kv = to_kv(cat([norm_media(media), l], dim: 1)).chunk(2, dim: -1)
        let o = scaledDotProductAttention(
            splitHeads(to_q(l), heads), splitHeads(kv[0], heads), splitHeads(kv[1], heads))
        return to_out(mergeHeads(o))
    }
}

/// One resampler layer: attention then feed-forward (`0`, `1` of a ModuleList).
public final class PerceiverLayer: Module {
    public let attention: PerceiverAttention
    public let feedForward: FlamingoFeedForward

    init(dim: Int, dimHead: Int, heads: Int, ffMult: Int) {
        attention = PerceiverAttention(dim: dim, dimHead: dimHead, heads: heads)
        feedForward = FlamingoFeedForward(dim: dim, mult: ffMult)
    }

    public override func namedChildren() -> [(String, Module)] { [("0", attention), ("1", feedForward)] }
}

/// open_flamingo's PerceiverResampler: learned `latents`, media time embeddings, `depth` layers, `norm`.
public final class PerceiverResampler: Module {
    public let latents: Parameter  // [numLatents, D]
    public let media_time_embs: Parameter?  // [maxMedia, 1, D]
    public let layers: [PerceiverLayer]
    public let norm: LayerNorm

    public init(
        dim: Int, depth: Int = 6, dimHead: Int = 64, heads: Int = 8, numLatents: Int = 64, maxNumMedia: Int? = nil,
        ffMult: Int = 4
    ) {
        latents = Parameter(Init.normal([numLatents, dim]))
        media_time_embs = maxNumMedia.map { Parameter(Init.normal([$0, 1, dim])) }
        layers = (0..<depth).map { _ in PerceiverLayer(dim: dim, dimHead: dimHead, heads: heads, ffMult: ffMult) }
        norm = LayerNorm(dim)
    }

    /// features [B, T, N, D] (T media per sample, N features each) → [B, T, numLatents, D];
    /// [B, N, D] (one image each, the connector seam) → [B, numLatents, D].
    public func callAsFunction(_ features: Tensor) -> Tensor {
        if features.rank == 3 { return self(features.unsqueeze(1)).squeeze(1) }
        let (b, t, n, d) = (features.shape[0], features.shape[1], features.shape[2], features.shape[3])
        var x = features
        if let time = media_time_embs { x = x + time.value.narrow(0, start: 0, length: t).unsqueeze(0) }
        let media = x.reshape([b * t, n, d])
        let count = latents.shape[0]
        var l = latents.value.unsqueeze(0).expand([b * t, count, d])
        for layer in layers {
            l = layer.attention(media, l) + l
            l = layer.feedForward(l) + l
        }
        return captured(norm(l)).reshape([b, t, count, d])
    }
}

/// Which image each text position sees: the number of `<image>` tokens up to and including it
/// (open_flamingo's `text_time`; 0: none yet). Full and incremental passes both use this, so a
/// token sees the same image either way.
public func mediaTimes(_ mediaLocations: [Bool]) -> [Int] {
    var time = 0
    return mediaLocations.map { isMedia in
        if isMedia { time += 1 }
        return time
    }
}

/// Text tokens attend to image latents: only those of the latest preceding image (or of all
/// preceding images); text before any image gets nothing (or, attending to all, a uniform mix, as
/// open_flamingo's masking of every key produces).
public final class MaskedCrossAttention: Module {
    public let norm: LayerNorm
    public let to_q, to_kv, to_out: Linear
    let heads: Int
    public let onlyAttendImmediateMedia: Bool

    public init(dim: Int, dimVisual: Int, dimHead: Int = 64, heads: Int = 8, onlyAttendImmediateMedia: Bool = true) {
        norm = LayerNorm(dim)
        to_q = Linear(dim, dimHead * heads, bias: false)
        to_kv = Linear(dimVisual, dimHead * heads * 2, bias: false)
        to_out = Linear(dimHead * heads, dim, bias: false)
        self.heads = heads
        self.onlyAttendImmediateMedia = onlyAttendImmediateMedia
    }

    /// Keys and values [B, heads, T·n, dimHead] of media [B, T, n, Dv]: fixed for a prompt, so a
    /// decoder computes them once.
    public func keysValues(_ media: Tensor) -> MediaKeysValues {
        let (b, t, n) = (media.shape[0], media.shape[1], media.shape[2])
        let kv = to_kv(media.reshape([b, t * n, media.shape[3]])).chunk(2, dim: -1)
        return MediaKeysValues(keys: splitHeads(kv[0], heads), values: splitHeads(kv[1], heads), latentsPerMedia: n)
    }

    /// x [B, L, D], media [B, T, n, Dv], mediaLocations [B][L] (true where an image token stands).
    public func callAsFunction(_ x: Tensor, media: Tensor, mediaLocations: [[Bool]]) -> Tensor {
        self(x, media: keysValues(media), textTimes: mediaLocations.map { mediaTimes($0) })
    }

    /// x [B, L, D] whose positions see images `textTimes` [B][L] (1-based; 0: none yet).
    public func callAsFunction(_ x: Tensor, media: MediaKeysValues, textTimes: [[Int]]) -> Tensor {
        let (b, l) = (x.shape[0], x.shape[1])
        let keys = media.keys.shape[2], n = media.latentsPerMedia
        var additive = [Float](repeating: 0, count: b * l * keys), silent = [Float](repeating: 1, count: b * l)
        for bi in 0..<b {
            for i in 0..<l {
                let time = textTimes[bi][i]
                if onlyAttendImmediateMedia && time == 0 { silent[bi * l + i] = 0 }
                for j in 0..<keys {
                    let mediaTime = j / n + 1
                    let allowed = onlyAttendImmediateMedia ? time == mediaTime : time >= mediaTime
                    if !allowed { additive[(bi * l + i) * keys + j] = -Float.greatestFiniteMagnitude }
                }
            }
        }
        let mask = Tensor(additive, shape: [b, 1, l, keys])
        let o = scaledDotProductAttention(splitHeads(to_q(norm(x)), heads), media.keys, media.values, mask: mask)
        return to_out(mergeHeads(o) * Tensor(silent, shape: [b, l, 1]))
    }
}

/// One cross-attention layer's keys and values over a prompt's image latents.
public struct MediaKeysValues {
    public let keys, values: Tensor
    public let latentsPerMedia: Int
}

/// GATED XATTN-DENSE: x + tanh(attn_gate)·xattn(x) then + tanh(ff_gate)·ff(x); gates start at 0,
/// so a fresh block leaves the language model's activations unchanged.
public final class GatedCrossAttentionBlock: Module {
    public let attn: MaskedCrossAttention
    public let attn_gate: Parameter
    public let ff: FlamingoFeedForward
    public let ff_gate: Parameter

    public init(
        dim: Int, dimVisual: Int, dimHead: Int = 64, heads: Int = 8, ffMult: Int = 4,
        onlyAttendImmediateMedia: Bool = true
    ) {
        attn = MaskedCrossAttention(
            dim: dim, dimVisual: dimVisual, dimHead: dimHead, heads: heads,
            onlyAttendImmediateMedia: onlyAttendImmediateMedia)
        attn_gate = Parameter(Tensor.zeros([1]))
        ff = FlamingoFeedForward(dim: dim, mult: ffMult)
        ff_gate = Parameter(Tensor.zeros([1]))
    }

    public func callAsFunction(_ x: Tensor, media: Tensor, mediaLocations: [[Bool]]) -> Tensor {
        self(x, media: attn.keysValues(media), textTimes: mediaLocations.map { mediaTimes($0) })
    }

    public func callAsFunction(_ x: Tensor, media: MediaKeysValues, textTimes: [[Int]]) -> Tensor {
        let h = attn(x, media: media, textTimes: textTimes) * attn_gate.value.tanh() + x
        return captured(ff(h) * ff_gate.value.tanh() + h)
    }
}
