import Foundation
import VLFiles
import VLIO
import VLNN

/// A model read from a directory, as one case per family: the recipes' view until they move to
/// `ModelRegistry` and `T.load(directory:)`.
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

/// Reads `config.json` and the weights of a model directory; `only` restricts the accepted model types.
public func loadModel(directory: URL, only: [String]? = nil, format: WeightFormat = .f32) throws -> LoadedModel {
    let d = try ModelDirectory(directory)
    if let only, !only.contains(d.modelType) {
        throw ConfigError("\(d.configPath): model_type is \"\(d.modelType)\"; this needs " + only.joined(separator: " or "))
    }
    switch try ModelRegistry.load(d, format: format) {
    case let m as CLIPModel: return .clip(m)
    case let m as LlamaForCausalLM: return .llama(m)
    case let m as OPTForCausalLM: return .opt(m)
    case let m as LlavaForConditionalGeneration: return .llava(m)
    case let m as Blip2ForConditionalGeneration: return .blip2(m)
    case let m as BertModel: return .bert(m)
    case let m as FlamingoForConditionalGeneration: return .flamingo(m)
    case let m as ALBEF: return .albef(m)
    case let m as MPlugOwlForConditionalGeneration: return .mplugOwl(m)
    case let m as MiniGPT4: return .minigpt4(m)
    default: throw ConfigError("\(d.configPath): model_type \"\(d.modelType)\" has no LoadedModel case")
    }
}
