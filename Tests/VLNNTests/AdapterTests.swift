import XCTest
import VLTensor
@testable import VLNN
import VLTestSupport

final class AdapterTests: XCTestCase {
    var rng = RandomGenerator(seed: 5)
    func randn(_ s: [Int]) -> Tensor { Tensor.randn(s, rng: &rng) }
    func maxDiff(_ a: Tensor, _ b: Tensor) -> Float { zip(a.toArray(), b.toArray()).map { abs($0 - $1) }.max()! }

    func testBottleneckGradientCheck() {
        let adapter = BottleneckAdapter(dim: 6, bottleneck: 3, activation: .gelu)
        adapter.up_proj.weight.value = randn([6, 3])
        adapter.up_proj.bias!.value = randn([6])
        let params = [adapter.down_proj.weight, adapter.down_proj.bias!, adapter.up_proj.weight, adapter.up_proj.bias!]
            .map(\.value)
        gradCheck([randn([2, 4, 6])] + params) { adapter($0[0]) }
    }

    func testBottleneckAdaptersStartAsIdentityAndOnlyTheyTrain() throws {
        let model = TinyDecoder()
        let x = randn([2, 3, 8])
        let before = noGrad { model(x) }
        let paths = try model.attachBottleneckAdapters(to: .pattern(#"layers\.\d+"#), dim: 8, bottleneck: 2)
        XCTAssertEqual(paths, ["layers.0", "layers.1"])
        XCTAssertEqual(maxDiff(noGrad { model(x) }, before), 0, "the up-projection starts at zero")
        let trainable = model.namedParameters().filter(\.1.isTrainable).map(\.0)
        XCTAssertEqual(
            trainable,
            [
                "layers.0.adapter.down_proj.weight", "layers.0.adapter.down_proj.bias",
                "layers.0.adapter.up_proj.weight", "layers.0.adapter.up_proj.bias",
                "layers.1.adapter.down_proj.weight", "layers.1.adapter.down_proj.bias",
                "layers.1.adapter.up_proj.weight", "layers.1.adapter.up_proj.bias",
            ])
        let base = model.stateDict(includingAdapters: false).mapValues { $0.clone() }
        let opt = AdamW(model.trainableParameters(), lr: 0.05)
        for _ in 0..<2 {
            model.zeroGrad()
            (model(x) * randn([2, 3, 5])).sum().backward()
            opt.step()
        }
        for (name, t) in model.stateDict(includingAdapters: false) {
            XCTAssertEqual(t.toArray(), base[name]!.toArray(), name)
        }
        XCTAssertGreaterThan(maxDiff(noGrad { model(x) }, before), 1e-4, "trained adapters change the output")
        XCTAssertThrowsError(try model.attachBottleneckAdapters(to: .names(["q_proj"]), dim: 8, bottleneck: 2)) {
            error in
            XCTAssertTrue("\(error)".contains("use LoRA for Linear layers"), "\(error)")
        }
        try model.load(stateDict: base)  // a base checkpoint still loads strictly
        model.removeBottleneckAdapters()
        XCTAssertEqual(maxDiff(noGrad { model(x) }, before), 0)
    }

    func testPrefixGradientCheck() {
        let prefix = AttentionPrefix(kvHeads: 2, length: 3, headDim: 4)
        let q = randn([2, 4, 5, 4])
        gradCheck([randn([2, 2, 5, 4]), randn([2, 2, 5, 4]), prefix.key.value, prefix.value.value]) { t in
            let (k, v, _) = prefix.prepend(keys: t[0], values: t[1], keyPadding: nil)
            return scaledDotProductAttention(q, k, v, causal: true)
        }
    }

    /// Every query sees the whole prefix, padded keys stay hidden, and a prefix of length 0 changes nothing.
    func testPrefixIsVisibleToEveryQuery() {
        let q = randn([1, 2, 3, 4]), k = randn([1, 2, 3, 4]), v = randn([1, 2, 3, 4])
        let padding = Tensor([1, 1, 0], shape: [1, 3])
        let empty = AttentionPrefix(kvHeads: 2, length: 0, headDim: 4)
        let (k0, v0, p0) = empty.prepend(keys: k, values: v, keyPadding: padding)
        XCTAssertEqual(
            scaledDotProductAttention(q, k0, v0, causal: true, keyPadding: p0).toArray(),
            scaledDotProductAttention(q, k, v, causal: true, keyPadding: padding).toArray())
        let prefix = AttentionPrefix(kvHeads: 2, length: 2, headDim: 4)
        let (kp, vp, pp) = prefix.prepend(keys: k, values: v, keyPadding: padding)
        XCTAssertEqual(pp!.toArray(), [1, 1, 1, 1, 0])
        let mask = Tensor([0, 0, 0, -1e9, -1e9, 0, 0, 0, 0, -1e9, 0, 0, 0, 0, -1e9], shape: [1, 1, 3, 5])
        let explicit = scaledDotProductAttention(q, kp, vp, mask: mask)
        XCTAssertLessThan(maxDiff(scaledDotProductAttention(q, kp, vp, causal: true, keyPadding: pp), explicit), 1e-6)
    }
}
