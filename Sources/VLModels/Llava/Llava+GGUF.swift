import VLFiles
import VLIO

/// A LLaVA as llama.cpp holds it: the language model's GGUF file and an mmproj file of the CLIP vision
/// tower with its projector (`clip.projector_type` "mlp", written by llama.cpp's image-encoder converter:
/// `v.*` tower tensors cut after the feature layer, `mm.0`/`mm.2` the projector's two linears).
extension LlavaForConditionalGeneration: GGUFProjectorModel {
    public static let ggufProjectorTypes = ["mlp"]

    public static func ggufDirectory(
        languageModel text: ModelDirectory, projector file: GGUFFile
    ) throws
        -> ModelDirectory
    {
        guard let textTensors = try text.checkpoint().ggufTensors, let textFile = text.gguf else {
            throw ConfigError("\(text.url.path): the language model of a GGUF LLaVA must be a GGUF file too")
        }
        let m = GGUFMetadata(file: file, arch: "clip.vision")
        func fail(_ problem: String) -> GGUFError { GGUFError(path: file.path, problem: problem) }
        guard file["clip.has_vision_encoder"]?.bool ?? true, file.tensorInfo("mm.0.weight") != nil else {
            throw fail("no vision encoder with an mlp projector (mm.0.weight)")
        }
        let imageSize = try m.int("image_size"), layers = try m.int("block_count")
        let vision: [String: Any] = [
            "model_type": "clip_vision_model", "hidden_size": try m.int("embedding_length"),
            "intermediate_size": try m.int("feed_forward_length"),
            "num_attention_heads": try m.int("attention.head_count"), "num_hidden_layers": layers,
            "image_size": imageSize, "patch_size": try m.int("patch_size"),
            "layer_norm_eps": try m.optionalDouble("attention.layer_norm_epsilon") ?? 1e-5,
            "hidden_act": file["clip.use_gelu"]?.bool == true ? "gelu" : "quick_gelu",
            "projection_dim": try m.optionalInt("projection_dim") ?? 512,
        ]
        guard let imageToken = textFile["tokenizer.ggml.tokens"]?.strings?.firstIndex(of: "<image>") else {
            throw GGUFError(path: textFile.path, problem: "no <image> token in the vocabulary for a LLaVA prompt")
        }
        // The converter keeps the tower up to the feature layer: its last block's output is the feature
        // (the file names other layers, as indices into the hidden states, when there are several).
        let featureLayers = file["clip.vision.feature_layer"]?.ints ?? [-1]
        var config: [String: Any] = [
            "model_type": "llava", "architectures": ["LlavaForConditionalGeneration"],
            "text_config": text.config.values, "vision_config": vision, "image_token_index": imageToken,
            "vision_feature_layer": featureLayers.count == 1 ? featureLayers[0] : featureLayers,
            "vision_feature_select_strategy": "default", "projector_hidden_act": "gelu",
            "multimodal_projector_bias": file.tensorInfo("mm.0.bias") != nil,
        ]
        config["tie_word_embeddings"] = text.config.values["tie_word_embeddings"]
        var entries: [String: GGUFTensorMap.Entry] = [:]
        for (name, entry) in textTensors.entries { entries["language_model." + name] = entry }
        for info in file.tensors {
            guard let name = hfName(info.name) else {
                throw fail("tensor \(info.name) is not part of a LLaVA vision tower or mlp projector")
            }
            entries[name] = GGUFTensorMap.Entry(info, in: file)
        }
        let mean = file["clip.vision.image_mean"]?.doubles ?? [0.48145466, 0.4578275, 0.40821073]
        let std = file["clip.vision.image_std"]?.doubles ?? [0.26862954, 0.26130258, 0.27577711]
        let processor: [String: Any] = [
            "image_processor_type": "CLIPImageProcessor", "size": ["shortest_edge": imageSize],
            "crop_size": ["height": imageSize, "width": imageSize], "image_mean": mean, "image_std": std,
            "do_resize": true, "do_center_crop": true, "do_rescale": true, "do_normalize": true,
            "do_convert_rgb": true, "resample": 3,
        ]
        return try ModelDirectory(
            gguf: GGUFTensorMap(file: textFile, entries: entries), config: config,
            tokenizerJSON: text.tokenizerJSON ?? [:], tokenizerConfig: text.tokenizerConfig ?? [:],
            chatTemplate: text.chatTemplate?.text, imageProcessor: processor)
    }

    static let ggufVisionParts: [String: String] = [
        "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
        "attn_out": "self_attn.out_proj", "ln1": "layer_norm1", "ln2": "layer_norm2",
        // The converter's names are swapped: fc1 (hidden → intermediate) is "ffn_down".
        "ffn_down": "mlp.fc1", "ffn_up": "mlp.fc2",
    ]

    /// `vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight` for `v.blk.0.ffn_down.weight`.
    static func hfName(_ ggml: String) -> String? {
        let tower = "vision_tower.vision_model.", kind = ggml.hasSuffix(".bias") ? "bias" : "weight"
        switch ggml {
        case "v.class_embd": return tower + "embeddings.class_embedding"
        case "v.patch_embd.weight": return tower + "embeddings.patch_embedding.weight"
        case "v.position_embd.weight": return tower + "embeddings.position_embedding.weight"
        case "v.pre_ln.weight", "v.pre_ln.bias": return tower + "pre_layrnorm." + kind
        case "v.post_ln.weight", "v.post_ln.bias": return tower + "post_layernorm." + kind
        case "mm.0.weight", "mm.0.bias": return "multi_modal_projector.linear_1." + kind
        case "mm.2.weight", "mm.2.bias": return "multi_modal_projector.linear_2." + kind
        default:
            let parts = ggml.split(separator: ".")
            guard parts.count == 5, parts[0] == "v", parts[1] == "blk", let layer = Int(parts[2]), layer >= 0,
                let part = ggufVisionParts[String(parts[3])], parts[4] == "weight" || parts[4] == "bias"
            else { return nil }
            return tower + "encoder.layers.\(layer).\(part).\(parts[4])"
        }
    }
}
