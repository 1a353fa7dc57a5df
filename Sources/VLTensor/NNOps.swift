import CKernels
import Foundation

// Neural-network ops with fused forward and backward loops where that pays (softmax, norms);
// the losses are compositions of differentiable ops.

extension Tensor {
    /// Applies `body` to each contiguous row of the last dimension, in parallel.
    @inline(__always)
    fileprivate func forEachRow(_ out: Tensor, _ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void)
    {
        let n = shape.last ?? 1, rows = count / Swift.max(n, 1)
        let src = dense
        let p = src.pointer, o = out.mutablePointer
        Parallel.forRange(rows, grain: Swift.max(1, 8192 / Swift.max(n, 1))) { r in
            for i in r { body(p + i * n, o + i * n, n) }
        }
    }

    /// Softmax along `dim` (default last).
    public func softmax(_ dim: Int = -1) -> Tensor {
        let d = normalizeDim(dim)
        if d != rank - 1 { return transpose(d, -1).softmax(-1).transpose(d, -1) }
        let out = Tensor.uninitialized(shape)
        forEachRow(out) { x, y, n in ck_softmax(x, y, n) }
        return record(out, [self]) { g in
            let gy = g * out
            return [gy - out * gy.sum(-1, keepDim: true)]
        }
    }

    /// log(softmax(x)) along `dim`, computed stably.
    public func logSoftmax(_ dim: Int = -1) -> Tensor {
        let d = normalizeDim(dim)
        if d != rank - 1 { return transpose(d, -1).logSoftmax(-1).transpose(d, -1) }
        let out = Tensor.uninitialized(shape)
        forEachRow(out) { x, y, n in
            var m = -Float.infinity
            for i in 0..<n { m = Swift.max(m, x[i]) }
            let lse = m + Foundation.log(ck_exp_shift_sum(x, y, n, m))
            for i in 0..<n { y[i] = x[i] - lse }
        }
        return record(out, [self]) { g in [g - out.exp() * g.sum(-1, keepDim: true)] }
    }

    /// L2-normalises along `dim`: x / max(‖x‖, eps) (torch.nn.functional.normalize).
    public func l2Normalized(dim: Int = -1, eps: Float = 1e-12) -> Tensor {
        self / norm(axes: [dim], keepDim: true).clamp(min: eps)
    }
}

/// Layer normalisation over the last dimension (PyTorch LayerNorm with one normalised dim).
public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float) -> Tensor {
    let n = x.shape.last!, rows = x.count / n
    let inputs = [x] + (weight.map { [$0] } ?? []) + (bias.map { [$0] } ?? [])
    let (out, xhat, rstd) = normalizeRows(
        x, weight: weight, bias: bias, eps: eps, centered: true, keepForBackward: needsGradient(inputs))
    return record(out, inputs) { g in
        let gd = g.dense
        let gx = normBackward(gd, xhat: xhat!, rstd: rstd!, weight: weight, centered: true)
        var grads: [Tensor?] = [gx]
        if let weight { grads.append(weight.requiresGrad ? (gd * xhat!).reshape([rows, n]).sum(0) : nil) }
        if let bias { grads.append(bias.requiresGrad ? gd.reshape([rows, n]).sum(0) : nil) }
        return grads
    }
}

/// RMS normalisation over the last dimension, LLaMA style: x · rsqrt(mean(x²) + eps) · weight.
public func rmsNorm(_ x: Tensor, weight: Tensor?, eps: Float) -> Tensor {
    let n = x.shape.last!, rows = x.count / n
    let inputs = [x] + (weight.map { [$0] } ?? [])
    let (out, xhat, rstd) = normalizeRows(
        x, weight: weight, bias: nil, eps: eps, centered: false, keepForBackward: needsGradient(inputs))
    return record(out, inputs) { g in
        let gd = g.dense
        let gx = normBackward(gd, xhat: xhat!, rstd: rstd!, weight: weight, centered: false)
        var grads: [Tensor?] = [gx]
        if let weight { grads.append(weight.requiresGrad ? (gd * xhat!).reshape([rows, n]).sum(0) : nil) }
        return grads
    }
}

/// Whether an op on these inputs will be recorded for a backward pass.
func needsGradient(_ inputs: [Tensor]) -> Bool { GradMode.isEnabled && inputs.contains { $0.requiresGrad } }

/// Normalised rows (C kernel per row); x̂ and rstd are kept only for a backward pass.
private func normalizeRows(
    _ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float, centered: Bool,
    keepForBackward: Bool
) -> (out: Tensor, xhat: Tensor?, rstd: Tensor?) {
    let n = x.shape.last!, rows = x.count / n
    let xd = x.dense
    let out = Tensor.uninitialized(x.shape)
    let xhat = keepForBackward ? Tensor.uninitialized(x.shape) : nil,
        rstd = keepForBackward ? Tensor.uninitialized([rows]) : nil
    let wp = weight?.dense.pointer, bp = bias?.dense.pointer
    let px = xd.pointer, po = out.mutablePointer, ph = xhat?.mutablePointer, pr = rstd?.mutablePointer
    Parallel.forRange(rows, grain: Swift.max(1, 4096 / n)) { r in
        for i in r {
            let rs = ck_norm_row(px + i * n, n, wp, bp, eps, centered ? 1 : 0, po + i * n, ph.map { $0 + i * n })
            pr?[i] = rs
        }
    }
    return (out, xhat, rstd)
}

/// dx for layer norm (centered) and RMS norm: rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ x̂)), ĝ = g · w.
private func normBackward(_ g: Tensor, xhat: Tensor, rstd: Tensor, weight: Tensor?, centered: Bool) -> Tensor {
    let n = g.shape.last!, rows = g.count / n
    let gx = Tensor.uninitialized(g.shape)
    let wp = weight?.dense.pointer
    let pg = g.pointer, ph = xhat.pointer, pr = rstd.pointer, po = gx.mutablePointer
    Parallel.forRange(rows, grain: Swift.max(1, 4096 / n)) { r in
        for i in r {
            let gr = pg + i * n, hr = ph + i * n, orow = po + i * n
            var meanG: Float = 0, meanGH: Float = 0
            for j in 0..<n {
                let gh = gr[j] * (wp?[j] ?? 1)
                meanG += gh
                meanGH += gh * hr[j]
            }
            meanG = centered ? meanG / Float(n) : 0
            meanGH /= Float(n)
            for j in 0..<n { orow[j] = pr[i] * (gr[j] * (wp?[j] ?? 1) - meanG - hr[j] * meanGH) }
        }
    }
    return gx
}

/// Rows of `weight` [vocab, dim] picked by integer `ids` of any shape → [..., dim].
public func embedding(_ ids: Tensor, _ weight: Tensor) -> Tensor {
    let flat = ids.toInts()
    let vocab = weight.shape[0], dim = weight.shape[1]
    for i in flat { precondition(i >= 0 && i < vocab, "token id \(i) out of range for a vocabulary of \(vocab)") }
    if weight.dtype != .f32 {
        // Half-precision tables (inference): widen only the rows looked up.
        return stack(flat.map { weight.narrow(0, start: $0, length: 1).to(.f32).reshape([dim]) }, dim: 0).reshape(
            ids.shape + [dim])
    }
    return weight.indexSelect(0, flat).reshape(ids.shape + [dim])
}

/// Zeroes elements with probability `p` and scales the rest by 1/(1−p) when `training`.
public func dropout(_ x: Tensor, p: Float, training: Bool, rng: inout RandomGenerator) -> Tensor {
    if !training || p == 0 { return x }
    let mask = Tensor.uninitialized(x.shape)
    let m = mask.mutablePointer, scale = 1 / (1 - p)
    for i in 0..<mask.count { m[i] = rng.nextFloat() < p ? 0 : scale }
    return x * mask
}

/// Mean cross-entropy of `logits` [..., C] against integer `labels` [...], skipping `ignoreIndex`,
/// with optional label smoothing (as torch.nn.functional.cross_entropy).
public func crossEntropy(
    _ logits: Tensor, _ labels: Tensor, ignoreIndex: Int = -100, labelSmoothing: Float = 0
) -> Tensor {
    let c = logits.shape.last!
    let lp = logits.reshape([-1, c]).logSoftmax(-1)
    let ys = labels.toInts()
    precondition(ys.count == lp.shape[0], "cross entropy: \(ys.count) labels for \(lp.shape[0]) rows")
    let kept = ys.enumerated().filter { $0.element != ignoreIndex }
    for (_, y) in kept { precondition(y >= 0 && y < c, "label \(y) out of range for \(c) classes") }
    let weights = Tensor.zeros([ys.count, 1])
    for (i, _) in kept { weights.mutablePointer[i] = 1 }
    let safeLabels = Tensor(ints: ys.map { $0 == ignoreIndex ? 0 : $0 }, shape: [ys.count, 1])
    let nll = -lp.gather(1, safeLabels)
    var perRow = nll
    if labelSmoothing > 0 {
        let smooth = -lp.mean(1, keepDim: true)
        perRow = nll * (1 - labelSmoothing) + smooth * labelSmoothing
    }
    return (perRow * weights).sum() / Float(Swift.max(kept.count, 1))
}

/// Mean squared error.
public func mseLoss(_ a: Tensor, _ b: Tensor) -> Tensor {
    let d = a - b
    return (d * d).mean()
}

/// Cosine similarity along `dim`: a·b / sqrt(max(‖a‖²‖b‖², eps²)) (torch's formula).
public func cosineSimilarity(_ a: Tensor, _ b: Tensor, dim: Int = -1, eps: Float = 1e-8) -> Tensor {
    let dot = (a * b).sum(dim)
    let n2 = (a * a).sum(dim) * (b * b).sum(dim)
    return dot / n2.clamp(min: eps * eps).sqrt()
}
