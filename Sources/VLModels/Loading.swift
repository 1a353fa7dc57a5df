import Foundation
import VLFiles
import VLIO
import VLNN
import VLTensor

/// How weights are held in memory for computing.
public enum WeightFormat: String, CaseIterable {
    /// Every floating-point weight as f32 (f16/bf16 checkpoints are widened once at load).
    case f32
    /// Matrices as bf16 (2 bytes a weight; bf16 GEMM/GEMV kernels), the vision tower's too (its
    /// encode is GEMM-bound: twice the f32 speed with AVX512-BF16); vectors and convolutions stay f32.
    case bf16
}

/// Loads the weights of a Hugging Face directory into `model` by name, strictly: every missing,
/// unexpected or mis-shaped key is reported at once. `keyMap` renames checkpoint keys onto the
/// model's names; `ignore` drops keys that the model legitimately lacks (e.g. a tied lm_head);
/// `keepInitialised` names parameters the checkpoint may lack (heads added for training).
public func loadWeights(into model: Module, from directory: URL, keyMap: (String) -> String = { $0 },
                        ignore: (String) -> Bool = { _ in false }, keepInitialised: (String) -> Bool = { _ in false },
                        format: WeightFormat = .f32) throws {
    let checkpoint = try Checkpoint(directory: directory)
    var state: [String: Tensor] = [:]
    for name in checkpoint.names where !ignore(name) {
        let t = try checkpoint.tensor(name)
        let key = keyMap(name)
        let lowPrecision = format == .bf16 && t.rank == 2 && t.dtype.isFloatingPoint
        let value = lowPrecision ? (t.dtype == .bf16 ? t : t.to(.bf16, hugePages: true))
                                 : (t.dtype == .f16 || t.dtype == .bf16 ? t.to(.f32, hugePages: true) : t)
        if value.dtype != t.dtype { checkpoint.releasePages(name) }  // the converted copy is what stays
        state[key] = value
    }
    for (name, p) in model.namedParameters() where state[name] == nil && keepInitialised(name) { state[name] = p.value }
    do {
        try model.load(stateDict: state)
    } catch let e as StateDictError {
        throw ConfigError("\(directory.path): \(e)")
    }
}

/// A model read from a directory, by its config's `model_type`.
public enum LoadedModel {
    case clip(CLIPModel)
    case llama(LlamaForCausalLM)
    case opt(OPTForCausalLM)
    case llava(LlavaForConditionalGeneration)
    case blip2(Blip2ForConditionalGeneration)
    case bert(BertModel)
    case flamingo(FlamingoForConditionalGeneration)
    case albef(ALBEF)
    case mplugOwl(MPlugOwlForConditionalGeneration)
    case minigpt4(MiniGPT4)

    /// The `model_type` values VLKit loads.
    public static let supportedTypes = ["clip", "llama", "mistral", "qwen2", "opt", "llava", "llava_llama", "blip-2", "bert", "flamingo",
                                        "albef", "mplug-owl", MiniGPT4Config.modelType]

    public var module: Module {
        switch self {
        case .clip(let m): return m
        case .llama(let m): return m
        case .opt(let m): return m
        case .llava(let m): return m
        case .blip2(let m): return m
        case .bert(let m): return m
        case .flamingo(let m): return m
        case .albef(let m): return m
        case .mplugOwl(let m): return m
        case .minigpt4(let m): return m
        }
    }
}

/// Reads `config.json` and the weights of a Hugging Face model directory. `only` restricts the
/// accepted model types (a command that needs a CLIP model says so instead of loading a LLaMA).
public func loadModel(directory: URL, only: [String]? = nil, format: WeightFormat = .f32) throws -> LoadedModel {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw ConfigError("\(directory.path): no such model directory")
    }
    let configURL = directory.appendingPathComponent("config.json")
    guard FileManager.default.fileExists(atPath: configURL.path) else {
        throw ConfigError("\(directory.path): no config.json (is this a Hugging Face model directory?)")
    }
    let r = try ConfigReader(contentsOf: configURL)
    let type = try r.string("model_type", "")
    if let only, !only.contains(type) {
        throw ConfigError("\(configURL.path): model_type is \"\(type)\"; this needs " + only.joined(separator: " or "))
    }
    // A MiniGPT-4 directory names its parts, which load as their own directories.
    if type == MiniGPT4Config.modelType { return .minigpt4(try MiniGPT4.load(directory: directory)) }
    let model: LoadedModel = try Init.skipping { try makeModel(type: type, r, configURL, directory: directory) }
    if case .llava(let llava) = model, let tower = llava.config.visionTowerDirectory {
        // The original LLaVA layout: the vision weights come from the tower's own checkpoint.
        try loadWeights(into: llava.vision_tower, from: tower, ignore: { !$0.hasPrefix("vision_model.") || $0.hasSuffix("position_ids") },
                        format: format)
        try loadWeights(into: llava, from: directory, keyMap: llavaOriginalKeyMap, keepInitialised: { $0.hasPrefix("vision_tower.") },
                        format: format)
    } else if case .flamingo(let f) = model {
        let state = try Checkpoint(directory: directory).tensors().mapValues { $0.dtype == .f16 || $0.dtype == .bf16 ? $0.to(.f32) : $0 }
        try f.load(openFlamingo: state, source: directory.path)
    } else {
        try loadWeights(into: model.module, from: directory, keyMap: keyMap(for: model), ignore: ignoredKeys(for: model), format: format)
    }
    model.module.eval()
    return model
}

private func makeModel(type: String, _ r: ConfigReader, _ configURL: URL, directory: URL) throws -> LoadedModel {
    let model: LoadedModel
    switch type {
    case "clip": model = .clip(try CLIPModel(CLIPConfig(r)))
    case _ where LlamaConfig.modelTypes.contains(type): model = .llama(try LlamaForCausalLM(LlamaConfig(r)))
    case "opt": model = .opt(try OPTForCausalLM(OPTConfig(r)))
    case "llava", "llava_llama":
        let config = LlavaConfig.isOriginalLayout(r) ? try LlavaConfig(original: r, directory: directory) : try LlavaConfig(r)
        model = .llava(try LlavaForConditionalGeneration(config))
    case "blip-2": model = .blip2(try Blip2ForConditionalGeneration(Blip2Config(r)))
    case "flamingo": model = .flamingo(try FlamingoForConditionalGeneration(FlamingoConfig(r)))
    case "bert":
        // sentence-transformers checkpoints often have no pooler.
        let pooler = try Checkpoint(directory: directory).names.contains { $0.hasSuffix("pooler.dense.weight") }
        model = .bert(try BertModel(BertConfig(r), pooling: pooler))
    case "albef": model = .albef(try ALBEF(ALBEFConfig(r)))
    case "mplug-owl": model = .mplugOwl(try MPlugOwlForConditionalGeneration(MPlugOwlConfig(r)))
    default:
        throw ConfigError("\(configURL.path): model_type \"\(type)\" is not supported; supported: "
            + LoadedModel.supportedTypes.joined(separator: ", "))
    }
    return model
}

private func keyMap(for model: LoadedModel) -> (String) -> String {
    switch model {
    case .llava: return llavaKeyMap
    case .bert: return { $0.hasPrefix("bert.") ? String($0.dropFirst(5)) : $0 }
    default: return { $0 }
    }
}

/// Keys a checkpoint may carry that the model does not use.
private func ignoredKeys(for model: LoadedModel) -> (String) -> Bool {
    switch model {
    case .opt: return { $0.hasSuffix("lm_head.weight") }  // tied to the token embeddings
    case .blip2(let m):
        if case .llama(let c) = m.config.text, !c.tieWordEmbeddings { return { _ in false } }  // its own lm_head
        return { $0.hasSuffix("lm_head.weight") }
    case .llama(let m) where m.config.tieWordEmbeddings: return { $0 == "lm_head.weight" }
    case .clip: return { $0.hasSuffix("position_ids") }
    case .bert: return { $0.hasSuffix("position_ids") || $0.hasPrefix("cls.") }
    case .albef: return ALBEF.isAuxiliaryKey
    case .mplugOwl: return { $0.hasSuffix("rotary_emb.inv_freq") }  // saved by the transformers of 2023
    default: return { _ in false }
    }
}
