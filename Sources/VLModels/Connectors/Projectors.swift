import VLNN
import VLTensor

/// LLaVA-1.5's projector (`multi_modal_projector`): linear_1 → activation → linear_2.
public final class MLPProjector: Module, Connector {
    public let linear_1: Linear
    public let linear_2: Linear
    let activation: Activation

    /// LLaVA's hidden width is its output width; VPGTrans folds a converter into `linear_2` and
    /// so keeps the source's hidden width with another output width.
    public init(
        inputSize: Int, outputSize: Int, hiddenSize: Int? = nil, activation: Activation = .gelu, bias: Bool = true
    ) {
        linear_1 = Linear(inputSize, hiddenSize ?? outputSize, bias: bias)
        linear_2 = Linear(hiddenSize ?? outputSize, outputSize, bias: bias)
        self.activation = activation
    }

    public var outputTokens: (Int) -> Int { { $0 } }
    public func callAsFunction(_ features: Tensor) -> Tensor { captured(linear_2(activation(linear_1(features)))) }
}

/// LLaVA-1.0 / MiniGPT-4's single linear layer (`linear`).
public final class LinearProjector: Module, Connector {
    public let linear: Linear

    public init(inputSize: Int, outputSize: Int, bias: Bool = true) {
        linear = Linear(inputSize, outputSize, bias: bias)
    }

    public var outputTokens: (Int) -> Int { { $0 } }
    public func callAsFunction(_ features: Tensor) -> Tensor { captured(linear(features)) }
}
