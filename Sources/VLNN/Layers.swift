import VLTensor

/// y = x · Wᵀ + b, weight [out, in] (PyTorch's Linear, same initialisation).
public final class Linear: Module {
    public let weight: Parameter
    public let bias: Parameter?
    /// Set by `Module.quantize`: the layer then runs on block-quantised weights (inference only).
    public private(set) var quantized: QuantizedMatrix?
    /// Set by `attachLoRA`: a low-rank update added to the output unless merged into the weight.
    public internal(set) var lora: LoRA?

    /// `adapter`: the layer belongs to a fine-tuning adapter, not to the base checkpoint.
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, adapter: Bool = false) {
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = Parameter(Init.uniform([outFeatures, inFeatures], bound: bound), adapter: adapter)
        self.bias = bias ? Parameter(Init.uniform([outFeatures], bound: bound), adapter: adapter) : nil
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = quantized.map { $0.linear(x, bias: bias?.value) } ?? linear(x, weight.value, bias?.value)
        guard let lora, !lora.isMerged else { return y }
        return y + lora.update(x, training: isTraining)
    }

    /// `layers.map { $0(x) }`; quantised layers of one format, or one decoded row through f32/bf16
    /// layers, share one pass of the threads (`QuantizedMatrix.linear`, `linearOneRow`), e.g. the
    /// q/k/v or gate/up projections while decoding.
    public static func apply(_ layers: [Linear], to x: Tensor) -> [Tensor] {
        guard layers.count > 1 else { return layers.map { $0(x) } }
        let matrices = layers.compactMap(\.quantized), biases = layers.map { $0.bias?.value }
        let together: [Tensor]?
        if matrices.count == layers.count {
            together = QuantizedMatrix.linear(matrices, x, biases: biases)
        } else {
            together = matrices.isEmpty ? linearOneRow(x, weights: layers.map(\.weight.value), biases: biases) : nil
        }
        guard let ys = together else { return layers.map { $0(x) } }
        return zip(layers, ys).map { layer, y in
            guard let lora = layer.lora, !lora.isMerged else { return y }
            return y + lora.update(x, training: layer.isTraining)
        }
    }

    /// LoRA's matrices appear as children `lora_A`, `lora_B`, so their keys are PEFT's
    /// (`q_proj.lora_A.weight`) while the base weight keeps its checkpoint name (`q_proj.weight`).
    public override func namedChildren() -> [(String, Module)] {
        lora.map { [("lora_A", $0.lora_A), ("lora_B", $0.lora_B)] } ?? []
    }

    /// Quantises the weight and frees the full-precision copy (its shape is kept for bookkeeping).
    /// Returns false when the input width is not a multiple of the block size.
    @discardableResult
    public func quantize(_ format: QuantizationFormat) -> Bool {
        guard quantized == nil, let q = QuantizedMatrix(weight.value, format: format) else { return false }
        use(q)
        return true
    }

    /// Runs on an already quantised weight of this layer's shape (e.g. a GGUF file's blocks).
    public func use(_ q: QuantizedMatrix) {
        precondition(
            q.n == outFeatures && q.k == inFeatures, "quantised weight \(q.n)×\(q.k) for a \(weight.shape) layer")
        quantized = q
        weight.value = Tensor(storage: Storage(byteCount: 4), dtype: .f32, shape: weight.shape, strides: [0, 0])
        weight.isTrainable = false
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }
}

/// Rows of a [count, dim] table looked up by integer ids.
public final class Embedding: Module {
    public let weight: Parameter

    public init(_ count: Int, _ dim: Int) {
        weight = Parameter(Init.normal([count, dim]))
    }

    public func callAsFunction(_ ids: Tensor) -> Tensor { embedding(ids, weight.value) }
}

/// Layer normalisation over the last dimension.
public final class LayerNorm: Module {
    public let weight: Parameter?
    public let bias: Parameter?
    public let eps: Float

    public init(_ dim: Int, eps: Float = 1e-5, affine: Bool = true, bias: Bool = true) {
        weight = affine ? Parameter(Tensor.ones([dim])) : nil
        self.bias = affine && bias ? Parameter(Tensor.zeros([dim])) : nil
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        captured(layerNorm(x, weight: weight?.value, bias: bias?.value, eps: eps))
    }
}

/// RMS normalisation over the last dimension (LLaMA).
public final class RMSNorm: Module {
    public let weight: Parameter
    public let eps: Float

    public init(_ dim: Int, eps: Float = 1e-6) {
        weight = Parameter(Tensor.ones([dim]))
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { rmsNorm(x, weight: weight.value, eps: eps) }
}

/// Zeroes activations with probability `p` in training mode.
public final class Dropout: Module {
    public let p: Float
    public init(_ p: Float) { self.p = p }
    public func callAsFunction(_ x: Tensor) -> Tensor {
        dropout(x, p: p, training: isTraining, rng: &GlobalRandom.generator)
    }
}

/// Activation functions by their Hugging Face `hidden_act` names.
public enum Activation: String, CaseIterable {
    case gelu, relu, silu, tanh, sigmoid
    case quickGelu = "quick_gelu"
    case geluNew = "gelu_new"
    case geluPytorchTanh = "gelu_pytorch_tanh"
    case swish

    /// Parses a config value; the error lists what is supported.
    public init(name: String) throws {
        guard let a = Activation(rawValue: name) else {
            throw ConfigValueError(
                "unsupported activation \"\(name)\"; supported: "
                    + Activation.allCases.map(\.rawValue).joined(separator: ", "))
        }
        self = a
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .gelu: return x.gelu()
        case .geluNew, .geluPytorchTanh: return x.geluTanh()
        case .quickGelu: return x.quickGelu()
        case .relu: return x.relu()
        case .silu, .swish: return x.silu()
        case .tanh: return x.tanh()
        case .sigmoid: return x.sigmoid()
        }
    }
}

/// A configuration value that VLKit cannot use.
public struct ConfigValueError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// fc1 → activation → fc2 (the transformer feed-forward block; CLIP/ViT names).
public final class MLP: Module {
    public let fc1: Linear
    public let fc2: Linear
    public let activation: Activation

    public init(_ dim: Int, hidden: Int, activation: Activation = .gelu, bias: Bool = true) {
        fc1 = Linear(dim, hidden, bias: bias)
        fc2 = Linear(hidden, dim, bias: bias)
        self.activation = activation
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { captured(fc2(activation(fc1(x)))) }
}
