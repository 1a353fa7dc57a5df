import VLNN
import VLTensor

/// A stack of pre-norm transformer layers (`encoder.layers.N.*`), shared by both CLIP towers.
public final class CLIPEncoder: Module {
    public let layers: [TransformerEncoderLayer]

    public init(hidden: Int, heads: Int, intermediate: Int, layers count: Int, activation: Activation, eps: Float) {
        layers = (0..<count).map { _ in
            TransformerEncoderLayer(dim: hidden, heads: heads, mlpDim: intermediate, activation: activation, eps: eps)
        }
    }

    /// Runs every layer; returns the last hidden state and, when asked, the input of every layer
    /// followed by the final output (HF's `hidden_states`, length layers + 1).
    public func callAsFunction(
        _ x: Tensor, causal: Bool = false, keyPadding: Tensor? = nil,
        collectHiddenStates: Bool = false
    ) -> (Tensor, [Tensor]) {
        var h = x
        var states: [Tensor] = collectHiddenStates ? [x] : []
        for layer in layers {
            h = layer(h, causal: causal, keyPadding: keyPadding)
            if collectHiddenStates { states.append(h) }
        }
        return (h, states)
    }

    /// The last layer's output at `rows` only ([B, 1, hidden], see `TransformerEncoderLayer`): what
    /// the pooled output needs, for a sixth less work in a 6-layer tower.
    public func pooledRows(_ x: Tensor, rows: [Int], causal: Bool = false, keyPadding: Tensor? = nil) -> Tensor {
        var h = x
        for layer in layers.dropLast() { h = layer(h, causal: causal, keyPadding: keyPadding) }
        guard let last = layers.last else {
            let l = x.shape[1]
            return x.reshape([x.shape[0] * l, -1]).indexSelect(0, rows.enumerated().map { $0.offset * l + $0.element })
                .reshape([x.shape[0], 1, -1])
        }
        return last(h, onlyRows: rows, causal: causal, keyPadding: keyPadding)
    }
}
