import VLTensor

// LoRA (Hu et al. 2021) as the `peft` library applies it to nn.Linear:
// y = W x + b + scale · B(A(dropout(x))), scale = alpha / r (alpha / √r with rsLoRA).

/// The hyperparameters of a LoRA adapter (PEFT's LoraConfig fields that change the computation).
public struct LoRAConfig: Equatable {
    public var rank: Int
    public var alpha: Float
    public var dropout: Float
    public var targets: TargetModules
    /// Modules trained in full next to the adapters and saved with them (PEFT's `modules_to_save`),
    /// matched as target names are.
    public var modulesToSave: [String]
    /// Rank-stabilised scaling alpha / √r instead of alpha / r.
    public var useRSLoRA: Bool

    public init(
        rank: Int, alpha: Float, dropout: Float = 0, targets: TargetModules, modulesToSave: [String] = [],
        useRSLoRA: Bool = false
    ) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.targets = targets
        self.modulesToSave = modulesToSave
        self.useRSLoRA = useRSLoRA
    }

    public var scale: Float { useRSLoRA ? alpha / Float(rank).squareRoot() : alpha / Float(rank) }
}

/// The low-rank update of one Linear layer. A [r, in] starts as nn.Linear's default (PEFT's
/// kaiming_uniform with a = √5), B [out, r] at zero, so the layer is unchanged until B trains.
public final class LoRA {
    public let lora_A: Linear
    public let lora_B: Linear
    public let scale: Float
    public let dropout: Float
    /// Whether scale · B·A is currently added into the base weight (the update is then skipped).
    public internal(set) var isMerged = false

    init(inFeatures: Int, outFeatures: Int, config: LoRAConfig) {
        lora_A = Linear(inFeatures, config.rank, bias: false, adapter: true)
        lora_B = Linear(config.rank, outFeatures, bias: false, adapter: true)
        lora_B.weight.value = Tensor.zeros([outFeatures, config.rank])
        scale = config.scale
        dropout = config.dropout
    }

    /// scale · B(A(dropout(x))).
    func update(_ x: Tensor, training: Bool) -> Tensor {
        lora_B(lora_A(VLTensor.dropout(x, p: dropout, training: training, rng: &GlobalRandom.generator))) * scale
    }

    /// scale · B·A [out, in], the change to the base weight.
    var weightDelta: Tensor { noGrad { matmul(lora_B.weight.value, lora_A.weight.value) * scale } }
}

extension Linear {
    /// Adds scale · B·A into the weight (in the weight's dtype) and stops applying the update separately.
    fileprivate func mergeLoRAUpdate() throws {
        guard let lora, !lora.isMerged else { return }
        guard quantized == nil else { throw PEFTError("cannot merge LoRA into a quantised layer") }
        weight.value = noGrad { (weight.value + lora.weightDelta).to(weight.value.dtype) }
        lora.isMerged = true
    }

    /// Subtracts a merged update back out of the weight.
    fileprivate func unmergeLoRAUpdate() {
        guard let lora, lora.isMerged else { return }
        weight.value = noGrad { (weight.value - lora.weightDelta).to(weight.value.dtype) }
        lora.isMerged = false
    }
}

extension Module {
    /// Attaches LoRA to every Linear layer the targets select and freezes all other parameters
    /// except those of `modulesToSave`. Returns the adapted layers' paths. Throws when nothing
    /// matches, when a match is not a Linear layer, or when a layer already has LoRA.
    @discardableResult
    public func attachLoRA(_ config: LoRAConfig) throws -> [String] {
        guard config.rank > 0 else { throw PEFTError("LoRA rank must be positive, got \(config.rank)") }
        let isTarget = try config.targets.matcher()
        var adapted: [(String, Linear)] = []
        for (path, module) in namedModules() where isTarget(path) && !path.matchesModuleName(in: config.modulesToSave) {
            guard let layer = module as? Linear else {
                let name = path.isEmpty ? "the root module" : "target module " + path
                throw PEFTError("\(name) is a \(type(of: module)); LoRA applies to Linear layers only")
            }
            if layer.weight.isAdapter { continue }
            guard layer.lora == nil else { throw PEFTError("\(path) already has a LoRA adapter") }
            adapted.append((path, layer))
        }
        guard !adapted.isEmpty else { throw PEFTError("target modules \(config.targets) not found in the model") }
        freeze()
        for (_, layer) in adapted {
            layer.lora = LoRA(inFeatures: layer.inFeatures, outFeatures: layer.outFeatures, config: config)
        }
        let saved = savedModulePaths(config.modulesToSave)
        if !saved.isEmpty { unfreeze(saved) }  // an empty list would unfreeze everything
        return adapted.map(\.0)
    }

    /// Every Linear layer with LoRA attached, by path.
    public func loraLayers() -> [(String, Linear)] {
        namedModules().compactMap { path, m in (m as? Linear).flatMap { $0.lora == nil ? nil : (path, $0) } }
    }

    /// Merges every LoRA update into its base weight (inference without the extra matmuls);
    /// a quantised layer cannot be merged.
    public func mergeLoRA() throws { for (_, layer) in loraLayers() { try layer.mergeLoRAUpdate() } }

    /// Undoes `mergeLoRA`.
    public func unmergeLoRA() { for (_, layer) in loraLayers() { layer.unmergeLoRAUpdate() } }

    /// Drops the LoRA adapters of the layers at `paths` (all when nil); merged updates stay in the
    /// weights (PEFT's merge_and_unload after `mergeLoRA`, its `unload` otherwise).
    public func removeLoRA(_ paths: [String]? = nil) {
        for (path, layer) in loraLayers() where paths?.contains(path) ?? true { layer.lora = nil }
    }

    /// Paths of the modules that `modulesToSave` names.
    public func savedModulePaths(_ modulesToSave: [String]) -> [String] {
        namedModules().map(\.0).filter { !$0.isEmpty && $0.matchesModuleName(in: modulesToSave) }
    }

    /// What an adapter file holds: every adapter parameter plus the parameters of `modulesToSave`,
    /// by their names in the model.
    public func adapterStateDict(modulesToSave: [String] = []) -> [String: Tensor] {
        adapterParameters(modulesToSave: modulesToSave).mapValues(\.value)
    }

    /// Loads exactly the tensors `adapterStateDict` returns; every missing, unexpected and
    /// mis-shaped key is reported in one `StateDictError`.
    public func loadAdapterState(_ state: [String: Tensor], modulesToSave: [String] = []) throws {
        try load(state, into: adapterParameters(modulesToSave: modulesToSave), buffers: [:], requireAdapters: true)
    }

    private func adapterParameters(modulesToSave: [String]) -> [String: Parameter] {
        let saved = savedModulePaths(modulesToSave)
        let named = namedParameters().filter { name, p in
            p.isAdapter || saved.contains { name.hasPrefix($0 + ".") }
        }
        return Dictionary(named, uniquingKeysWith: { a, _ in a })
    }
}

/// A fine-tuning adapter that cannot be attached, merged or loaded, with the reason.
public struct PEFTError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
