import VLTensor

/// Houlsby et al. (2019) bottleneck adapter: x + up(act(down(x))). The up-projection starts at
/// zero, so the module it follows is unchanged until the adapter trains.
public final class BottleneckAdapter: Module {
    public let down_proj: Linear
    public let up_proj: Linear
    public let activation: Activation

    public init(dim: Int, bottleneck: Int, activation: Activation = .relu) {
        down_proj = Linear(dim, bottleneck, adapter: true)
        up_proj = Linear(bottleneck, dim, adapter: true)
        up_proj.weight.value = Tensor.zeros([dim, bottleneck])
        up_proj.bias!.value = Tensor.zeros([dim])
        self.activation = activation
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x + up_proj(activation(down_proj(x))) }
}

extension Module {
    /// Inserts a bottleneck adapter after the output of every module `targets` selects and freezes
    /// everything else; returns their paths. The adapter acts where a module hands its output to
    /// `captured(_:)` — attention blocks, MLPs, decoder layers, LayerNorm — so targeting a LLaMA's
    /// `self_attn` and `mlp` places adapters as Houlsby does, before each residual addition.
    /// Linear layers take LoRA instead. Keys: `<module>.adapter.down_proj.weight`, ….
    @discardableResult
    public func attachBottleneckAdapters(
        to targets: TargetModules, dim: Int, bottleneck: Int,
        activation: Activation = .relu
    ) throws -> [String] {
        let isTarget = try targets.matcher()
        let chosen = namedModules().filter { isTarget($0.0) }
        guard !chosen.isEmpty else { throw PEFTError("target modules \(targets) not found in the model") }
        for (path, module) in chosen {
            if module is Linear { throw PEFTError("\(path) is a Linear layer; use LoRA for Linear layers") }
            if module.adapter != nil { throw PEFTError("\(path) already has a bottleneck adapter") }
        }
        freeze()
        for (_, module) in chosen {
            module.adapter = BottleneckAdapter(dim: dim, bottleneck: bottleneck, activation: activation)
        }
        return chosen.map(\.0)
    }

    /// Drops every bottleneck adapter.
    public func removeBottleneckAdapters() { for (_, m) in namedModules() { m.adapter = nil } }
}
