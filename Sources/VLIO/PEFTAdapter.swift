import Foundation
import VLFiles
import VLNN
import VLTensor

// LoRA adapters on disk in the layout of PEFT's save_pretrained: a directory holding
// adapter_config.json and adapter_model.safetensors, whose keys are the model's parameter names
// behind PEFT's wrapper prefix (`base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`).

/// The contents of adapter_config.json that VLKit reads and writes.
public struct PEFTAdapterConfig: Equatable {
    public var lora: LoRAConfig
    public var baseModelNameOrPath: String?
    /// PEFT's task type (`CAUSAL_LM`, `SEQ_2_SEQ_LM`, `FEATURE_EXTRACTION`, …), recorded as is.
    public var taskType: String?
    public var inferenceMode: Bool

    public init(
        lora: LoRAConfig, baseModelNameOrPath: String? = nil, taskType: String? = nil, inferenceMode: Bool = true
    ) {
        self.lora = lora
        self.baseModelNameOrPath = baseModelNameOrPath
        self.taskType = taskType
        self.inferenceMode = inferenceMode
    }
}

public let peftConfigFile = "adapter_config.json"
public let peftWeightsFile = "adapter_model.safetensors"
/// What PeftModel puts before the wrapped model's parameter names.
let peftKeyPrefix = "base_model.model."

/// Writes the model's LoRA matrices (and `modulesToSave` parameters) and the config into `directory`.
public func savePEFTAdapter(of model: Module, config: PEFTAdapterConfig, to directory: URL) throws {
    let state = model.adapterStateDict(modulesToSave: config.lora.modulesToSave)
    guard !state.isEmpty else { throw PEFTError("the model has no adapter to save") }
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let keyed = Dictionary(uniqueKeysWithValues: state.map { (peftKeyPrefix + $0.key, $0.value) })
    try writeSafetensors(keyed, metadata: ["format": "pt"], to: directory.appendingPathComponent(peftWeightsFile))
    let json = try JSONSerialization.data(withJSONObject: config.jsonObject, options: [.prettyPrinted, .sortedKeys])
    try writeAtomically(json, to: directory.appendingPathComponent(peftConfigFile))
}

/// Attaches the adapter in `directory` to `model` and loads its weights with strict name and
/// shape checks. The adapter is frozen unless `trainable` (PEFT's `is_trainable`). On error the
/// model keeps no adapter from this directory.
@discardableResult
public func loadPEFTAdapter(
    into model: Module, from directory: URL, trainable: Bool = false
) throws -> PEFTAdapterConfig {
    let config = try readPEFTAdapterConfig(directory)
    let weightsPath = directory.appendingPathComponent(peftWeightsFile).path
    let file = try SafetensorsFile(path: weightsPath)
    var state: [String: Tensor] = [:]
    for name in file.names {
        guard name.hasPrefix(peftKeyPrefix) else {
            throw PEFTError(
                "\(weightsPath): key \(name) does not start with \(peftKeyPrefix) (not a PEFT adapter file)")
        }
        state[String(name.dropFirst(peftKeyPrefix.count))] = try file.tensor(name).to(.f32)
    }
    let saved = config.lora.modulesToSave
    let attached: [String]
    do { attached = try model.attachLoRA(config.lora) } catch { throw PEFTError("\(directory.path): \(error)") }
    do {
        try model.loadAdapterState(state, modulesToSave: saved)
    } catch {
        model.removeLoRA(attached)
        throw PEFTError("\(weightsPath) does not fit the model: \(error)")
    }
    if !trainable { model.freeze(attached + model.savedModulePaths(saved)) }
    return config
}

/// Parses adapter_config.json, refusing settings that would change the computation in ways
/// VLKit does not implement (DoRA, biases, per-layer ranks, …) rather than ignoring them.
public func readPEFTAdapterConfig(_ directory: URL) throws -> PEFTAdapterConfig {
    let url = directory.appendingPathComponent(peftConfigFile)
    let r = try ConfigReader(contentsOf: url)
    func fail(_ problem: String) -> PEFTError { PEFTError("\(url.path): \(problem)") }
    let type = try r.string("peft_type", "")
    guard type == "LORA" else { throw fail("peft_type \"\(type)\" is not supported; VLKit loads LORA adapters") }
    guard let rank = try r.optionalInt("r"), rank > 0 else { throw fail("\"r\" should be a positive integer") }
    let bias = try r.string("bias", "none")
    guard bias == "none" else { throw fail("bias \"\(bias)\" is not supported; only \"none\"") }
    for key in unsupportedLoRAOptions where isSet(r.values[key]) {
        throw fail("\"\(key)\" is set (\(r.values[key]!)); VLKit does not support it")
    }
    let lora = LoRAConfig(
        rank: rank, alpha: try r.float("lora_alpha", 8), dropout: try r.float("lora_dropout", 0),
        targets: try targets(r.values["target_modules"], fail: fail),
        modulesToSave: try strings(r.values["modules_to_save"], "modules_to_save", fail: fail) ?? [],
        useRSLoRA: try r.bool("use_rslora", false))
    return PEFTAdapterConfig(
        lora: lora, baseModelNameOrPath: try r.optionalString("base_model_name_or_path"),
        taskType: try r.optionalString("task_type"), inferenceMode: try r.bool("inference_mode", true))
}

/// LoraConfig fields that change the computation when set and that VLKit does not implement.
let unsupportedLoRAOptions = [
    "use_dora", "fan_in_fan_out", "lora_bias", "rank_pattern", "alpha_pattern", "layers_to_transform",
    "exclude_modules", "layer_replication", "target_parameters", "trainable_token_indices", "alora_invocation_tokens",
]

/// Whether a JSON value is anything but absent, null, false or empty.
private func isSet(_ value: Any?) -> Bool {
    guard let value, !(value is NSNull) else { return false }
    if isJSONBoolean(value) { return value as! Bool }
    if let d = value as? [String: Any] { return !d.isEmpty }
    if let a = value as? [Any] { return !a.isEmpty }
    return true
}

private func targets(_ value: Any?, fail: (String) -> PEFTError) throws -> TargetModules {
    if let pattern = value as? String { return .pattern(pattern) }
    guard let names = try strings(value, "target_modules", fail: fail), !names.isEmpty else {
        throw fail("\"target_modules\" should be a list of module names or a regular expression")
    }
    return .names(names)
}

private func strings(_ value: Any?, _ key: String, fail: (String) -> PEFTError) throws -> [String]? {
    guard let value, !(value is NSNull) else { return nil }
    guard let list = value as? [Any], let names = list as? [String] else {
        throw fail("\"\(key)\" should be a list of strings")
    }
    return names
}

extension PEFTAdapterConfig {
    /// The fields PEFT's LoraConfig reads, with the defaults for what VLKit does not use.
    var jsonObject: [String: Any] {
        let targets: Any
        switch lora.targets {
        case .names(let names): targets = names
        case .pattern(let pattern): targets = pattern
        }
        return [
            "peft_type": "LORA", "r": lora.rank, "lora_alpha": jsonNumber(lora.alpha),
            "lora_dropout": jsonNumber(lora.dropout),
            "target_modules": targets, "modules_to_save": lora.modulesToSave.isEmpty ? NSNull() : lora.modulesToSave,
            "use_rslora": lora.useRSLoRA, "bias": "none", "fan_in_fan_out": false, "use_dora": false,
            "init_lora_weights": true,
            "rank_pattern": [String: Any](), "alpha_pattern": [String: Any](), "layers_to_transform": NSNull(),
            "layers_pattern": NSNull(), "task_type": taskType ?? NSNull(),
            "base_model_name_or_path": baseModelNameOrPath ?? NSNull(), "inference_mode": inferenceMode,
        ]
    }
}

/// A Float as JSON writes it in Python: 8 rather than 8.0, 0.1 rather than 0.10000000149011612.
private func jsonNumber(_ x: Float) -> Any { x == x.rounded() && abs(x) < 1e9 ? Int(x) : Double(x.description)! }
