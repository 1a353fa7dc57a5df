import Foundation

// Rotary position embedding in the Hugging Face LLaMA convention: the head dimension is split in
// halves (rotate_half), angle = position · inv_freq, computed in f32 as transformers does.

/// inv_freq[i] = 1 / theta^(2i / dim), i < dim/2 (f32 arithmetic like torch).
public func ropeInverseFrequencies(headDim: Int, theta: Float) -> [Float] {
    (0..<headDim / 2).map { i in 1 / powf(theta, Float(2 * i) / Float(headDim)) }
}

/// Rotates x [B, H, L, D] by positions [L] (shared) or [B·L] (per batch row).
/// `attentionScaling` multiplies cos and sin (the llama3/yarn scalings use it).
public func applyRotaryEmbedding(
    _ x: Tensor, positions: [Int], inverseFrequencies invFreq: [Float],
    attentionScaling: Float = 1
) -> Tensor {
    let (b, h, l, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let half = d / 2
    precondition(invFreq.count == half, "rope: \(invFreq.count) frequencies for head dim \(d)")
    precondition(positions.count == l || positions.count == b * l, "rope: \(positions.count) positions for \(b)×\(l)")
    let perBatch = positions.count == b * l
    // cos/sin tables [rows, half] where rows index the positions array.
    var cosT = [Float](repeating: 0, count: positions.count * half), sinT = cosT
    for (r, pos) in positions.enumerated() {
        for i in 0..<half {
            let angle = Float(pos) * invFreq[i]
            cosT[r * half + i] = cosf(angle) * attentionScaling
            sinT[r * half + i] = sinf(angle) * attentionScaling
        }
    }
    func rotate(_ src: Tensor, direction: Float) -> Tensor {
        let s = src.dense
        let out = Tensor.uninitialized(src.shape)
        let ps = s.pointer, po = out.mutablePointer
        Parallel.forRange(b * h * l, grain: 64) { range in
            for row in range {
                let li = row % l, bi = row / (h * l)
                let t = (perBatch ? bi * l + li : li) * half
                let xr = ps + row * d, yr = po + row * d
                for i in 0..<half {
                    let c = cosT[t + i], sn = sinT[t + i] * direction
                    let a = xr[i], bb = xr[i + half]
                    yr[i] = a * c - bb * sn
                    yr[i + half] = bb * c + a * sn
                }
            }
        }
        return out
    }
    let out = rotate(x, direction: 1)
    return record(out, [x]) { g in [rotate(g, direction: -1)] }
}
