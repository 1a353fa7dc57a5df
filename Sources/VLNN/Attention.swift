import VLTensor

/// Multi-head attention, self or cross, with separate `q_proj`/`k_proj`/`v_proj`/`out_proj`
/// (CLIP/HF names) or one fused `in_proj` [3·dim, dim] (torch.nn.MultiheadAttention's layout),
/// optional biases, and grouped key/value heads.
public final class MultiHeadAttention: Module {
    public let q_proj: Linear?
    public let k_proj: Linear?
    public let v_proj: Linear?
    public let in_proj_weight: Parameter?
    public let in_proj_bias: Parameter?
    public let out_proj: Linear
    public let heads: Int
    public let kvHeads: Int
    public let headDim: Int

    /// - `contextDim`: width of the keys/values' source for cross-attention (default `dim`).
    public init(
        dim: Int, heads: Int, kvHeads: Int? = nil, contextDim: Int? = nil, bias: Bool = true, fused: Bool = false
    ) {
        precondition(dim % heads == 0, "dim \(dim) is not divisible by \(heads) heads")
        self.heads = heads
        self.kvHeads = kvHeads ?? heads
        headDim = dim / heads
        let kvDim = self.kvHeads * headDim, ctx = contextDim ?? dim
        if fused {
            precondition(ctx == dim && kvDim == dim, "a fused in_proj needs self-attention without grouped heads")
            let bound = 1 / Float(dim).squareRoot()
            in_proj_weight = Parameter(Init.uniform([3 * dim, dim], bound: bound))
            in_proj_bias = bias ? Parameter(Tensor.zeros([3 * dim])) : nil
            (q_proj, k_proj, v_proj) = (nil, nil, nil)
        } else {
            q_proj = Linear(dim, dim, bias: bias)
            k_proj = Linear(ctx, kvDim, bias: bias)
            v_proj = Linear(ctx, kvDim, bias: bias)
            (in_proj_weight, in_proj_bias) = (nil, nil)
        }
        out_proj = Linear(dim, dim, bias: bias)
    }

    /// x [B, L, dim]; `context` [B, Lc, contextDim] for cross-attention (nil: self-attention).
    public func callAsFunction(
        _ x: Tensor, context: Tensor? = nil, mask: Tensor? = nil, causal: Bool = false,
        keyPadding: Tensor? = nil
    ) -> Tensor {
        let (q, k, v) = project(x, context ?? x)
        // A model holding bf16 weights runs its attention products in bf16 too (as PyTorch's bf16 models).
        let o = scaledDotProductAttention(
            splitHeads(q, heads), splitHeads(k, kvHeads), splitHeads(v, kvHeads),
            causal: causal, mask: mask, keyPadding: keyPadding,
            bf16Products: out_proj.weight.value.dtype == .bf16)
        return captured(out_proj(mergeHeads(o)))
    }

    private func project(_ x: Tensor, _ source: Tensor) -> (Tensor, Tensor, Tensor) {
        if let w = in_proj_weight {
            let qkv = linear(x, w.value, in_proj_bias?.value).chunk(3, dim: -1)
            return (qkv[0], qkv[1], qkv[2])
        }
        return (q_proj!(x), k_proj!(source), v_proj!(source))
    }
}

/// [B, L, H·D] → [B, H, L, D].
public func splitHeads(_ x: Tensor, _ heads: Int) -> Tensor {
    let (b, l, c) = (x.shape[0], x.shape[1], x.shape[2])
    return x.reshape([b, l, heads, c / heads]).transpose(1, 2)
}

/// [B, H, L, D] → [B, L, H·D].
public func mergeHeads(_ x: Tensor) -> Tensor {
    let (b, h, l, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    return x.transpose(1, 2).reshape([b, l, h * d])
}

/// A transformer encoder layer with CLIP's names (`layer_norm1`, `self_attn`, `layer_norm2`, `mlp`),
/// pre-norm (x + attn(norm(x))) or post-norm (norm(x + attn(x)), BERT-style).
public final class TransformerEncoderLayer: Module {
    public let self_attn: MultiHeadAttention
    public let layer_norm1: LayerNorm
    public let mlp: MLP
    public let layer_norm2: LayerNorm
    public let preNorm: Bool

    public init(
        dim: Int, heads: Int, mlpDim: Int, activation: Activation = .gelu, eps: Float = 1e-5, preNorm: Bool = true
    ) {
        self_attn = MultiHeadAttention(dim: dim, heads: heads)
        layer_norm1 = LayerNorm(dim, eps: eps)
        mlp = MLP(dim, hidden: mlpDim, activation: activation)
        layer_norm2 = LayerNorm(dim, eps: eps)
        self.preNorm = preNorm
    }

    public func callAsFunction(
        _ x: Tensor, mask: Tensor? = nil, causal: Bool = false, keyPadding: Tensor? = nil
    ) -> Tensor {
        if preNorm {
            let h = x + self_attn(layer_norm1(x), mask: mask, causal: causal, keyPadding: keyPadding)
            return captured(h + mlp(layer_norm2(h)))
        }
        let h = layer_norm1(x + self_attn(x, mask: mask, causal: causal, keyPadding: keyPadding))
        return captured(layer_norm2(h + mlp(h)))
    }

    /// The (pre-norm) layer's output at one row of each sequence, `rows[b]`, [B, L, dim] → [B, 1, dim]:
    /// all rows still serve as keys and values, but queries, the output projection and the MLP run for
    /// the chosen rows only — what pooling at a token reads (CLIP's end-of-text or class token).
    public func callAsFunction(
        _ x: Tensor, onlyRows rows: [Int], causal: Bool = false, keyPadding: Tensor? = nil
    ) -> Tensor {
        precondition(preNorm, "only pre-norm layers can skip rows")
        let (b, l) = (x.shape[0], x.shape[1])
        precondition(rows.count == b && rows.allSatisfy { (0..<l).contains($0) }, "one row in range for each sequence")
        let picked = x.reshape([b * l, -1]).indexSelect(0, rows.enumerated().map { $0.offset * l + $0.element })
            .reshape([b, 1, -1])
        // The keys a chosen row may see: its causal past and what the caller's padding keeps.
        let keep = keyPadding?.dense.toArray()
        var allowed = [Float](repeating: 1, count: b * l)
        for bi in 0..<b {
            for j in 0..<l where (causal && j > rows[bi]) || (keep.map { $0[bi * l + j] == 0 } ?? false) {
                allowed[bi * l + j] = 0
            }
        }
        let attention = self_attn(
            layer_norm1(picked), context: layer_norm1(x), keyPadding: Tensor(allowed, shape: [b, l]))
        let h = picked + attention
        return captured(h + mlp(layer_norm2(h)))
    }
}
