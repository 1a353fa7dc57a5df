import Foundation
import VLNN
import VLTensor

// LLaMA-family decoder as in transformers' modeling_llama: pre-norm blocks of RMSNorm →
// grouped-query self-attention with rotary positions → RMSNorm → SwiGLU MLP.

public final class LlamaAttention: Module {
    public let q_proj, k_proj, v_proj, o_proj: Linear
    /// Set by `attachPrefixTuning`: learned keys/values placed before the real ones.
    public internal(set) var prefix: AttentionPrefix?
    let heads, kvHeads, headDim: Int

    init(_ c: LlamaConfig) {
        (heads, kvHeads, headDim) = (c.numAttentionHeads, c.kvHeads, c.resolvedHeadDim)
        q_proj = Linear(c.hiddenSize, heads * headDim, bias: c.attentionBias)
        k_proj = Linear(c.hiddenSize, kvHeads * headDim, bias: c.attentionBias)
        v_proj = Linear(c.hiddenSize, kvHeads * headDim, bias: c.attentionBias)
        o_proj = Linear(heads * headDim, c.hiddenSize, bias: c.outputProjectionBias)
    }

    func callAsFunction(_ x: Tensor, rope: RotaryTable, layer: Int, cache: KVCache?, keyPadding: Tensor?) -> Tensor {
        let qkv = Linear.apply([q_proj, k_proj, v_proj], to: x)
        let q = rope.apply(splitHeads(qkv[0], heads))
        var k = rope.apply(splitHeads(qkv[1], kvHeads))
        var v = splitHeads(qkv[2], kvHeads)
        if let cache { (k, v) = cache.update(layer: layer, keys: k, values: v) }
        var padding = keyPadding
        if let prefix { (k, v, padding) = prefix.prepend(keys: k, values: v, keyPadding: keyPadding) }
        // Causal attention aligns queries with the last keys, so every query also sees the whole prefix.
        let o = scaledDotProductAttention(q, k, v, causal: true, keyPadding: padding)
        return captured(o_proj(mergeHeads(o)))
    }
}

/// down(act(gate(x)) · up(x)).
public final class LlamaMLP: Module {
    public let gate_proj, up_proj, down_proj: Linear
    let activation: Activation

    init(_ c: LlamaConfig) throws {
        gate_proj = Linear(c.hiddenSize, c.intermediateSize, bias: c.mlpBias)
        up_proj = Linear(c.hiddenSize, c.intermediateSize, bias: c.mlpBias)
        down_proj = Linear(c.intermediateSize, c.hiddenSize, bias: c.mlpBias)
        activation = try Activation(name: c.hiddenAct)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let gateUp = Linear.apply([gate_proj, up_proj], to: x)
        return captured(down_proj(activation(gateUp[0]) * gateUp[1]))
    }
}

public final class LlamaDecoderLayer: Module {
    public let input_layernorm: RMSNorm
    public let self_attn: LlamaAttention
    public let post_attention_layernorm: RMSNorm
    public let mlp: LlamaMLP

    init(_ c: LlamaConfig) throws {
        input_layernorm = RMSNorm(c.hiddenSize, eps: c.rmsNormEps)
        self_attn = LlamaAttention(c)
        post_attention_layernorm = RMSNorm(c.hiddenSize, eps: c.rmsNormEps)
        mlp = try LlamaMLP(c)
    }

    func callAsFunction(_ x: Tensor, rope: RotaryTable, layer: Int, cache: KVCache?, keyPadding: Tensor?) -> Tensor {
        let h = x + self_attn(input_layernorm(x), rope: rope, layer: layer, cache: cache, keyPadding: keyPadding)
        return captured(h + mlp(post_attention_layernorm(h)))
    }
}

/// The decoder stack (`model.*`): token embeddings, layers, final norm.
public final class LlamaModel: Module {
    public let embed_tokens: Embedding
    public let layers: [LlamaDecoderLayer]
    public let norm: RMSNorm

    init(_ c: LlamaConfig) throws {
        embed_tokens = Embedding(c.vocabSize, c.hiddenSize)
        layers = try (0..<c.numHiddenLayers).map { _ in try LlamaDecoderLayer(c) }
        norm = RMSNorm(c.hiddenSize, eps: c.rmsNormEps)
    }
}

/// HF `LlamaForCausalLM`: `model.*` plus `lm_head` (absent from the checkpoint when tied).
public final class LlamaForCausalLM: Module, LanguageModel {
    public let model: LlamaModel
    public let lm_head: Linear?
    public let config: LlamaConfig
    /// The tied output projection in quantised blocks (a GGUF file's embedding table, which the
    /// lookup reads de-quantised); nil: logits from the embedding weight itself.
    public internal(set) var tiedOutput: QuantizedMatrix?

    public init(_ c: LlamaConfig) throws {
        config = c
        model = try LlamaModel(c)
        lm_head = c.tieWordEmbeddings ? nil : Linear(c.hiddenSize, c.vocabSize, bias: false)
    }

    public var hiddenSize: Int { config.hiddenSize }
    public var vocabSize: Int { config.vocabSize }

    public func embed(_ ids: Tensor) -> Tensor { model.embed_tokens(ids) }

    public func hiddenStates(_ embeddings: Tensor, positions: [Int], cache: KVCache?, keyPadding: Tensor?) -> Tensor {
        let rope = RotaryTable(config: config, headDim: config.resolvedHeadDim, positions: positions)
        var h = embeddings
        for (i, layer) in model.layers.enumerated() {
            h = layer(h, rope: rope, layer: i, cache: cache, keyPadding: keyPadding)
        }
        cache?.commit()
        return model.norm(h)
    }

    public func logits(_ hidden: Tensor) -> Tensor {
        lm_head.map { $0(hidden) } ?? tiedOutput?.linear(hidden, bias: nil)
            ?? linear(hidden, model.embed_tokens.weight.value)
    }
}

/// cos/sin of the rotary angles for one forward pass, from the config's scaling type.
struct RotaryTable {
    let positions: [Int]
    let inverseFrequencies: [Float]
    let attentionScaling: Float

    init(config c: LlamaConfig, headDim: Int, positions: [Int]) {
        self.positions = positions
        let base = ropeInverseFrequencies(headDim: headDim, theta: c.rope.theta)
        let r = c.rope
        attentionScaling = 1
        switch r.kind {
        case .default:
            inverseFrequencies = base
        case .linear:
            inverseFrequencies = base.map { $0 / r.factor }
        case .dynamic:
            // NTK-aware: a larger base once the sequence outgrows the trained context.
            let seqLen = (positions.max() ?? 0) + 1
            if seqLen > c.maxPositionEmbeddings {
                let scaled = Float(
                    Double(r.theta)
                        * pow(
                            Double(r.factor) * Double(seqLen) / Double(c.maxPositionEmbeddings)
                                - Double(r.factor - 1), Double(headDim) / Double(headDim - 2)))
                inverseFrequencies = ropeInverseFrequencies(headDim: headDim, theta: scaled)
            } else {
                inverseFrequencies = base
            }
        case .llama3:
            let old = Float(r.originalMaxPositions)
            let lowWavelen = old / r.lowFrequencyFactor, highWavelen = old / r.highFrequencyFactor
            inverseFrequencies = base.map { f in
                let wavelen = 2 * Float.pi / f
                if wavelen < highWavelen { return f }
                if wavelen > lowWavelen { return f / r.factor }
                let smooth = (old / wavelen - r.lowFrequencyFactor) / (r.highFrequencyFactor - r.lowFrequencyFactor)
                return (1 - smooth) * f / r.factor + smooth * f
            }
        }
    }

    func apply(_ x: Tensor) -> Tensor {
        applyRotaryEmbedding(
            x, positions: positions, inverseFrequencies: inverseFrequencies, attentionScaling: attentionScaling)
    }
}
