import VLFiles
import XCTest
import VLIO
import VLNN
import VLTensor
@testable import VLModels
import VLTestSupport

/// Prefix tuning and bottleneck adapters on the tiny LLaMA of the PEFT fixtures.
final class PrefixTuningTests: XCTestCase {
    func llama() throws -> LlamaForCausalLM {
        let m = try LlamaForCausalLM.load(directory: fixtureDirectory("peft", "base"))
        m.eval()
        return m
    }

    func logits(_ m: LlamaForCausalLM, _ ids: [Int], from start: Int = 0) -> Tensor {
        let x = Tensor(ints: ids, shape: [1, ids.count])
        return m.logits(
            m.hiddenStates(m.embed(x), positions: Array(start..<start + ids.count), cache: nil, keyPadding: nil))
    }

    let virtualTokens = [5, 17, 42], text = [7, 8, 9, 10, 11]

    /// An empty prefix is the plain model; an untrained (random) prefix is not — unlike LoRA and
    /// bottleneck adapters, prefix tuning changes the output from the start, because attention
    /// spreads over the extra keys.
    func testEmptyPrefixChangesNothingAndARandomOneDoes() throws {
        let m = try llama()
        let plain = noGrad { logits(m, text) }.toArray()
        try m.attachPrefixTuning(length: 0)
        XCTAssertEqual(noGrad { logits(m, text) }.toArray(), plain)
        m.removePrefixTuning()
        try m.attachPrefixTuning(length: 4)
        XCTAssertGreaterThan(zip(noGrad { logits(m, text) }.toArray(), plain).map { abs($0 - $1) }.max()!, 1e-3)
    }

    /// A prefix holding the keys and values that real tokens produce gives the logits of those
    /// tokens followed by the text: prefix tuning learns exactly such virtual tokens.
    func testPrefixOfRealTokensEqualsPrependingThem() throws {
        let m = try llama()
        let full = noGrad { logits(m, virtualTokens + text) }.narrow(1, start: virtualTokens.count, length: text.count)
        let cache = KVCache()
        _ = noGrad {
            m.hiddenStates(
                m.embed(Tensor(ints: virtualTokens, shape: [1, 3])), positions: [0, 1, 2], cache: cache, keyPadding: nil
            )
        }
        try m.attachPrefixTuning(length: virtualTokens.count)
        for (i, layer) in m.model.layers.enumerated() {
            let attention = layer.self_attn
            let none = Tensor.zeros([1, attention.kvHeads, 0, attention.headDim])
            let (k, v) = cache.update(layer: i, keys: none, values: none)  // everything stored so far
            attention.prefix!.key.value = k.select(0, 0).clone()
            attention.prefix!.value.value = v.select(0, 0).clone()
        }
        let prefixed = noGrad { logits(m, text, from: virtualTokens.count) }
        assertClose(prefixed, full, tol: 1e-5, "prefix of real tokens")
    }

    func testOnlyThePrefixTrainsAndWorksWithTheCache() throws {
        let m = try llama()
        try m.attachPrefixTuning(length: 2)
        let trainable = m.namedParameters().filter(\.1.isTrainable).map(\.0)
        XCTAssertEqual(trainable.count, 4)
        XCTAssertTrue(
            trainable.allSatisfy { $0.hasSuffix("self_attn.prefix.key") || $0.hasSuffix("self_attn.prefix.value") })
        let ids = Tensor(ints: text, shape: [1, text.count])
        crossEntropy(logits(m, text).narrow(1, start: 0, length: 4), ids.narrow(1, start: 1, length: 4)).backward()
        XCTAssertNotNil(m.model.layers[0].self_attn.prefix!.key.grad)
        XCTAssertNil(m.model.layers[0].self_attn.q_proj.weight.grad)
        // Decoding step by step through the cache sees the same prefix as one pass.
        let whole = noGrad { logits(m, text) }
        let cache = KVCache()
        var steps: [Tensor] = []
        for (i, id) in text.enumerated() {
            steps.append(
                noGrad {
                    m.logits(
                        m.hiddenStates(
                            m.embed(Tensor(ints: [id], shape: [1, 1])), positions: [i], cache: cache, keyPadding: nil))
                })
        }
        assertClose(cat(steps, dim: 1), whole, tol: 1e-5, "cached decoding with a prefix")
    }

    func testBottleneckAdaptersAfterAttentionAndMLPStartAsTheBaseModel() throws {
        let m = try llama()
        let plain = noGrad { logits(m, text) }.toArray()
        let paths = try m.attachBottleneckAdapters(
            to: .pattern(#".*\.(self_attn|mlp)"#), dim: m.hiddenSize, bottleneck: 4)
        XCTAssertEqual(paths.count, 4)
        XCTAssertEqual(noGrad { logits(m, text) }.toArray(), plain)
        XCTAssertNotNil(m.namedParameters().first { $0.0 == "model.layers.1.mlp.adapter.up_proj.weight" })
        let ids = Tensor(ints: text, shape: [1, text.count])
        crossEntropy(logits(m, text).narrow(1, start: 0, length: 4), ids.narrow(1, start: 1, length: 4)).backward()
        XCTAssertNotNil(m.model.layers[0].self_attn.adapter!.up_proj.weight.grad)
        XCTAssertEqual(m.parameterCount(trainableOnly: true), 4 * (32 * 4 + 4 + 4 * 32 + 32))
    }
}
