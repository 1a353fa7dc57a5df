import VLNN

extension LlamaForCausalLM {
    /// Prefix tuning: gives every attention layer `length` learned key/value pairs and freezes all
    /// other parameters. Keys: `model.layers.<i>.self_attn.prefix.key` / `.value`, [Hkv, P, D].
    public func attachPrefixTuning(length: Int) throws {
        guard length >= 0 else { throw PEFTError("prefix length must not be negative, got \(length)") }
        guard model.layers.allSatisfy({ $0.self_attn.prefix == nil }) else {
            throw PEFTError("the model already has prefix tuning")
        }
        freeze()
        for layer in model.layers {
            let attention = layer.self_attn
            attention.prefix = AttentionPrefix(kvHeads: attention.kvHeads, length: length, headDim: attention.headDim)
        }
    }

    /// Drops the prefixes.
    public func removePrefixTuning() { for layer in model.layers { layer.self_attn.prefix = nil } }
}
