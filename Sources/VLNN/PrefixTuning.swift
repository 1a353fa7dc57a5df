import VLTensor

/// Prefix tuning (Li & Liang 2021) for one attention layer: P learned keys and values that every
/// query sees before the real ones, as if P virtual tokens preceded the input. They carry no
/// position (rotary embedding is not applied to them) and every query attends to all of them.
/// Initialised N(0, 1) as PEFT's prefix embedding (without its reparametrising MLP).
public final class AttentionPrefix: Module {
    /// [Hkv, P, D].
    public let key: Parameter
    public let value: Parameter

    public init(kvHeads: Int, length: Int, headDim: Int) {
        key = Parameter(Init.normal([kvHeads, length, headDim]), adapter: true)
        value = Parameter(Init.normal([kvHeads, length, headDim]), adapter: true)
    }

    public var length: Int { key.shape[1] }

    /// Keys and values [B, Hkv, L, D] → [B, Hkv, P + L, D]; a key padding mask [B, L] → [B, P + L]
    /// with the prefix always visible.
    public func prepend(keys: Tensor, values: Tensor, keyPadding: Tensor?) -> (Tensor, Tensor, Tensor?) {
        let b = keys.shape[0]
        let expanded = { (p: Parameter) in p.value.unsqueeze(0).expand([b] + p.shape) }
        let padding = keyPadding.map { cat([Tensor.ones([b, length]), $0], dim: 1) }
        return (cat([expanded(key), keys], dim: 2), cat([expanded(value), values], dim: 2), padding)
    }
}
