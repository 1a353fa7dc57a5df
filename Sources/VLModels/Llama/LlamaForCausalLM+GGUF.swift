import VLFiles
import VLIO

/// llama.cpp's files of the LLaMA family (TinyLlama, SmolLM, Mistral: architecture "llama"; Qwen2):
/// the config transformers' GGUF loader builds, ggml's tensor names, and the rows of Q and K put back
/// in Hugging Face's order (llama.cpp's converter interleaves each head's rotary halves for "llama").
extension LlamaForCausalLM: GGUFModel {
    public static let ggufArchitectures = ["llama", "qwen2"]

    public static func ggufConfig(_ file: GGUFFile) throws -> [String: Any] {
        let arch = file.architecture ?? ""
        let m = GGUFMetadata(file: file, arch: arch)
        let heads = try m.int("attention.head_count"), hidden = try m.int("embedding_length")
        var config: [String: Any] = [
            "model_type": arch, "architectures": [arch == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"],
            "hidden_size": hidden, "intermediate_size": try m.int("feed_forward_length"),
            "num_hidden_layers": try m.int("block_count"), "num_attention_heads": heads,
            "num_key_value_heads": try m.optionalInt("attention.head_count_kv") ?? heads,
            "max_position_embeddings": try m.optionalInt("context_length") ?? 2048,
            "rms_norm_eps": try m.optionalDouble("attention.layer_norm_rms_epsilon") ?? 1e-5,
            "rope_theta": try m.optionalDouble("rope.freq_base") ?? 10000,
            "vocab_size": try m.optionalInt("vocab_size") ?? file["tokenizer.ggml.tokens"]?.array?.count ?? 0,
            "tie_word_embeddings": file.tensorInfo("output.weight") == nil,
        ]
        if let keyLength = try m.optionalInt("attention.key_length"), keyLength * heads != hidden {
            config["head_dim"] = keyLength
        }
        if let bos = file["tokenizer.ggml.bos_token_id"]?.int { config["bos_token_id"] = bos }
        if let eos = file["tokenizer.ggml.eos_token_id"]?.int { config["eos_token_id"] = eos }
        if let scaling = file["\(arch).rope.scaling.type"]?.string, scaling != "none" {
            guard scaling == "linear", let factor = try m.optionalDouble("rope.scaling.factor") else {
                throw m.fail("rope scaling \"\(scaling)\" is not supported (linear)")
            }
            config["rope_scaling"] = ["rope_type": "linear", "factor": factor]
        }
        if file.tensorInfo("rope_freqs.weight") != nil {
            throw m.fail("per-frequency rope factors (rope_freqs, Llama 3.1 scaling) are not supported yet")
        }
        return config
    }

    static let ggufLayerParts: [String: String] = [
        "attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
        "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
    ]

    public static func ggufTensors(_ file: GGUFFile, config: ConfigReader) throws -> GGUFTensorMap {
        let c = try LlamaConfig(config)
        let permuted = file.architecture == "llama"
        var entries: [String: GGUFTensorMap.Entry] = [:]
        for info in file.tensors {
            guard let name = hfName(info.name) else {
                let arch = file.architecture ?? "llama"
                throw GGUFError(path: file.path, problem: "tensor \(info.name) is not part of a \(arch) model")
            }
            var order: [Int]?
            if permuted, name.hasSuffix("q_proj.weight") || name.hasSuffix("q_proj.bias") {
                order = try rotaryRowOrder(
                    rows: info.shape[0], heads: c.numAttentionHeads, path: file.path, tensor: info.name)
            } else if permuted, name.hasSuffix("k_proj.weight") || name.hasSuffix("k_proj.bias") {
                order = try rotaryRowOrder(rows: info.shape[0], heads: c.kvHeads, path: file.path, tensor: info.name)
            }
            entries[name] = GGUFTensorMap.Entry(info, in: file, rowOrder: order)
        }
        return GGUFTensorMap(file: file, entries: entries)
    }

    /// `model.layers.3.mlp.up_proj.weight` for `blk.3.ffn_up.weight`.
    static func hfName(_ ggml: String) -> String? {
        switch ggml {
        case "token_embd.weight": return "model.embed_tokens.weight"
        case "output_norm.weight": return "model.norm.weight"
        case "output.weight": return "lm_head.weight"
        default:
            let parts = ggml.split(separator: ".")
            guard parts.count == 4, parts[0] == "blk", let layer = Int(parts[1]), layer >= 0,
                let part = ggufLayerParts[String(parts[2])], parts[3] == "weight" || parts[3] == "bias"
            else { return nil }
            return "model.layers.\(layer).\(part).\(parts[3])"
        }
    }

    /// llama.cpp stores head h's rows as pairs (i, d/2 + i) side by side; row h·d + j·d/2 + i of the
    /// Hugging Face weight is its row h·d + 2i + j.
    static func rotaryRowOrder(rows: Int, heads: Int, path: String, tensor: String) throws -> [Int] {
        guard heads > 0, rows % heads == 0, (rows / heads) % 2 == 0 else {
            throw GGUFError(path: path, problem: "\(tensor) has \(rows) rows, not \(heads) heads of an even size")
        }
        let d = rows / heads, half = d / 2
        return (0..<rows).map { r in
            let (h, j, i) = (r / d, (r % d) / half, r % half)
            return h * d + 2 * i + j
        }
    }
}
