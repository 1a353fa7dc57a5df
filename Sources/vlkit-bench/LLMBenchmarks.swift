import Foundation
import VLModels
import VLNN
import VLTensor

/// A LLaMA with TinyLlama's shapes (1.1B parameters), values filled cheaply (speed does not depend on them).
func tinyLlama(_ format: WeightFormat) throws -> LlamaForCausalLM {
    var c = LlamaConfig()
    (c.vocabSize, c.hiddenSize, c.intermediateSize, c.numHiddenLayers) = (32000, 2048, 5632, 22)
    (c.numAttentionHeads, c.numKeyValueHeads, c.maxPositionEmbeddings) = (32, 4, 2048)
    let model = try Init.skipping { try LlamaForCausalLM(c) }
    for (_, p) in model.namedParameters() {
        // Matrices on huge pages, as loaded weights are (a converted or mmap'd checkpoint).
        let t =
            p.value.rank == 2
            ? Tensor(
                storage: Storage(uninitializedByteCount: p.value.count * 4, hugePages: true), dtype: .f32,
                shape: p.value.shape) : p.value
        let ptr = t.mutablePointer
        Parallel.forRange(t.count, grain: 1 << 20) { r in for i in r { ptr[i] = Float(i % 17 - 8) * 0.002 } }
        p.value = format == .bf16 && t.rank == 2 ? t.to(.bf16, hugePages: true) : t
    }
    model.eval()
    return model
}

/// Prefill of 128 tokens and greedy decoding of 64 (tokens/s): f32, bf16, q8 and q4 weights. Peers:
/// PyTorch for f32 and bf16, llama.cpp (when installed) for all four (q8_0 and q4_0 for q8 and q4).
func llmBenchmarks(quick: Bool, wants: (String) -> Bool) throws -> [BenchCase] {
    guard !quick else { return [] }
    var cases: [BenchCase] = []
    for (format, quantization) in [(WeightFormat.f32, nil), (.bf16, nil), (.f32, QuantizationFormat.q8), (.f32, .q4)] {
        let label = quantization?.rawValue ?? format.rawValue
        guard wants("llama1b_prefill128_\(label)") || wants("llama1b_decode64_\(label)") else { continue }
        let model = try tinyLlama(format)
        if let quantization { model.quantize(quantization) }
        let prompt = Tensor(ints: (0..<128).map { ($0 * 37) % 32000 }, shape: [1, 128])
        cases.append(
            BenchCase(
                name: "llama1b_prefill128_\(label)", unit: "tok/s", work: 128,
                body: {
                    _ = noGrad {
                        model.logits(
                            model.hiddenStates(
                                model.embed(prompt), positions: Array(0..<128), cache: KVCache(), keyPadding: nil
                            )
                            .narrow(1, start: 127, length: 1))
                    }
                }, peer: "llama1b_prefill128_\(label)"))
        let first = noGrad { model.embed(Tensor(ints: [1], shape: [1, 1])) }
        cases.append(
            BenchCase(
                name: "llama1b_decode64_\(label)", unit: "tok/s", work: 64,
                body: {
                    _ = Generator(model: model).generate(
                        promptEmbeddings: first, sampling: SamplingParameters(), stop: StopConditions(maxNewTokens: 65))
                }, peer: "llama1b_decode64_\(label)"))
    }
    return cases
}

extension Peer {
    /// transformers' LlamaForCausalLM on PyTorch, f32 and bf16 (tools/bench/torch_llm_peer.py).
    static let torchLLMScript = "torch_llm_peer.py"
}

/// How far quantised logits move from f32 on a small random LLaMA (HF's initialisation, std 0.02):
/// max |Δ logit| and top-1 agreement over 200 positions of one prompt.
func quantizationDrift() throws -> [(format: QuantizationFormat, maxAbs: Float, top1: Double)] {
    var c = LlamaConfig()
    (c.vocabSize, c.hiddenSize, c.intermediateSize, c.numHiddenLayers, c.numAttentionHeads, c.numKeyValueHeads) =
        (32000, 512, 1408, 4, 8, 4)
    GlobalRandom.seed(11)
    let reference = try Init.skipping { try LlamaForCausalLM(c) }
    var rng = RandomGenerator(seed: 12)
    var state: [String: Tensor] = [:]
    for (name, p) in reference.namedParameters() {
        state[name] = p.value.rank == 2 ? Tensor.randn(p.value.shape, std: 0.02, rng: &rng) : Tensor.ones(p.value.shape)
    }
    try reference.load(stateDict: state)
    let ids = Tensor(ints: (0..<200).map { _ in rng.nextInt(32000) }, shape: [1, 200])
    func logits(_ m: LlamaForCausalLM) -> [Float] {
        noGrad { m.logits(m.hiddenStates(m.embed(ids), positions: Array(0..<200), cache: nil, keyPadding: nil)) }
            .toArray()
    }
    let base = logits(reference)
    return try QuantizationFormat.allCases.map { format in
        let model = try Init.skipping { try LlamaForCausalLM(c) }
        try model.load(stateDict: state.mapValues { $0.clone() })
        model.quantize(format)
        let q = logits(model)
        var agree = 0
        for pos in 0..<200 {
            let row = pos * 32000
            let a = (0..<32000).max { base[row + $0] < base[row + $1] }!,
                b = (0..<32000).max { q[row + $0] < q[row + $1] }!
            if a == b { agree += 1 }
        }
        return (format, zip(base, q).map { abs($0 - $1) }.max()!, Double(agree) / 200)
    }
}
