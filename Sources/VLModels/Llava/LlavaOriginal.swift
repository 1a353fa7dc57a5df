import Foundation
import VLFiles
import VLIO

/// Checkpoints of the original LLaVA repository (haotian-liu/LLaVA's `LlavaLlamaForCausalLM`, as
/// liuhaotian/llava-v1.5-7b ships them): a LLaMA config with `mm_*` fields, the decoder's weights
/// under `model.*` / `lm_head.*`, the projector under `model.mm_projector.*` (`mlp2x_gelu`:
/// indices 0 and 2; `linear`: one layer), a SentencePiece tokenizer.model, and no vision weights —
/// the CLIP tower is the checkpoint that `mm_vision_tower` names.
extension LlavaConfig {
    /// The original LLaVA's image token: not a vocabulary entry but this id spliced into the prompt.
    public static let originalImageTokenIndex = -200
    /// The system prompt of the original LLaVA-1.5's conversation template (vicuna_v1).
    public static let vicunaSystemPrompt =
        "A chat between a curious human and an artificial intelligence assistant. "
        + "The assistant gives helpful, detailed, and polite answers to the human's questions."

    /// Whether a `llava` / `llava_llama` config is the original repository's rather than transformers'.
    static func isOriginalLayout(_ r: ConfigReader) -> Bool { r.has("mm_vision_tower") && !r.has("text_config") }

    /// Reads an original LLaVA config; the vision tower is looked up from `directory` (see
    /// `resolveVisionTower`).
    init(original r: ConfigReader, directory: URL) throws {
        self.init()
        text = try LlamaConfig(
            ConfigReader(r.values.merging(["model_type": "llama"]) { _, new in new }, source: r.source))
        imageTokenId = LlavaConfig.originalImageTokenIndex
        switch try r.string("mm_projector_type", "linear") {
        case "linear": projector = .linear
        case "mlp2x_gelu": projector = .mlp
        case let other:
            throw ConfigError("\(r.source): mm_projector_type \"\(other)\" is not supported (linear, mlp2x_gelu)")
        }
        selection.layers = [try r.int("mm_vision_select_layer", -1)]
        switch try r.string("mm_vision_select_feature", "patch") {
        case "patch": selection.keepClassToken = false
        case "cls_patch": selection.keepClassToken = true
        case let other:
            throw ConfigError("\(r.source): mm_vision_select_feature \"\(other)\" is not supported (patch, cls_patch)")
        }
        if try r.bool("mm_use_im_start_end", false) {
            throw ConfigError(
                "\(r.source): mm_use_im_start_end (LLaVA-1.0's <im_start>/<im_end> tokens) is not supported")
        }
        padImagesToSquare = try r.string("image_aspect_ratio", "square") == "pad"
        let name = try r.optionalString("mm_vision_tower") ?? ""
        let tower = try resolveVisionTower(name, modelDirectory: directory)
        let towerConfig = try ConfigReader(contentsOf: tower.appendingPathComponent("config.json"))
        vision = try CLIPVisionConfig(try towerConfig.sub("vision_config") ?? towerConfig)
        let width = try r.int("mm_hidden_size", vision.hiddenSize)
        guard width == vision.hiddenSize * selection.layers.count else {
            throw ConfigError(
                "\(r.source): mm_hidden_size \(width) does not match the vision tower's width \(vision.hiddenSize) (\(tower.path))"
            )
        }
        visionTowerDirectory = tower
    }
}

/// The directory of the vision tower named `name` (a Hugging Face id such as
/// "openai/clip-vit-large-patch14-336", or a path): the path itself (absolute or relative to the
/// model), a directory of that last name beside the model, or the Hugging Face cache
/// (`$HF_HUB_CACHE`, `$HF_HOME/hub`, `~/.cache/huggingface/hub`).
public func resolveVisionTower(_ name: String, modelDirectory: URL) throws -> URL {
    let fm = FileManager.default
    let env = ProcessInfo.processInfo.environment
    var candidates: [URL] = []
    if !name.isEmpty {
        candidates.append(
            name.hasPrefix("/") ? URL(fileURLWithPath: name) : modelDirectory.appendingPathComponent(name))
        let last = name.split(separator: "/").last.map(String.init) ?? name
        candidates.append(modelDirectory.deletingLastPathComponent().appendingPathComponent(last))
        let caches = [
            env["HF_HUB_CACHE"], env["HF_HOME"].map { $0 + "/hub" }, env["HOME"].map { $0 + "/.cache/huggingface/hub" },
        ]
        for cache in caches.compactMap({ $0 }) {
            let snapshots = URL(fileURLWithPath: cache).appendingPathComponent(
                "models--" + name.replacingOccurrences(of: "/", with: "--")
            )
            .appendingPathComponent("snapshots")
            let revisions = (try? fm.contentsOfDirectory(atPath: snapshots.path)) ?? []
            candidates += revisions.sorted().map { snapshots.appendingPathComponent($0) }
        }
    }
    if let found = candidates.first(where: { fm.fileExists(atPath: $0.appendingPathComponent("config.json").path) }) {
        return found.standardizedFileURL
    }
    throw ConfigError(
        "\(modelDirectory.path): the vision tower \"\(name)\" (mm_vision_tower) was not found; looked in "
            + (candidates.isEmpty ? "nothing (the name is empty)" : candidates.map(\.path).joined(separator: ", ")))
}

/// Original LLaVA weight names → ours.
func llavaOriginalKeyMap(_ key: String) -> String {
    for (from, to) in [
        ("model.mm_projector.0.", "multi_modal_projector.linear_1."),
        ("model.mm_projector.2.", "multi_modal_projector.linear_2."),
        ("model.mm_projector.", "multi_modal_projector.linear."),
        ("model.vision_tower.vision_tower.", "vision_tower."), ("model.", "language_model.model."),
        ("lm_head.", "language_model.lm_head."),
    ] where key.hasPrefix(from) {
        return to + key.dropFirst(from.count)
    }
    return key
}
