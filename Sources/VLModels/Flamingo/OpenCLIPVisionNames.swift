import VLFiles
import VLIO
import VLTensor

/// HF `CLIPVisionModel` names (`vision_model.*`) ↔ open_clip's `VisionTransformer` names, which
/// OpenFlamingo's checkpoints use under `vision_encoder.`. open_clip fuses each layer's q, k, v
/// projections into `attn.in_proj_weight` / `in_proj_bias` (q, k, v stacked along dim 0).
public enum OpenCLIPVisionNames {
    /// open_clip's name for an HF name, and which third of the fused projection it is (q 0, k 1, v 2).
    public static func name(_ hfName: String) -> (name: String, third: Int?) {
        let key = hfName.hasPrefix("vision_model.") ? String(hfName.dropFirst("vision_model.".count)) : hfName
        let fixed = [
            "embeddings.class_embedding": "class_embedding", "embeddings.patch_embedding.weight": "conv1.weight",
            "embeddings.position_embedding.weight": "positional_embedding",
        ]
        if let f = fixed[key] { return (f, nil) }
        for (i, p) in ["q_proj", "k_proj", "v_proj"].enumerated() where key.contains(".self_attn.\(p).") {
            let renamed = key.replacingOccurrences(of: "encoder.layers.", with: "transformer.resblocks.")
                .replacingOccurrences(of: ".self_attn.\(p).", with: ".attn.in_proj_")
            return (renamed, i)
        }
        var k = key
        for (from, to) in [
            ("pre_layrnorm.", "ln_pre."), ("post_layernorm.", "ln_post."),
            ("encoder.layers.", "transformer.resblocks."),
            (".layer_norm1.", ".ln_1."), (".layer_norm2.", ".ln_2."), (".self_attn.out_proj.", ".attn.out_proj."),
            (".mlp.fc1.", ".mlp.c_fc."), (".mlp.fc2.", ".mlp.c_proj."),
        ] {
            k = k.replacingOccurrences(of: from, with: to)
        }
        return (k, nil)
    }

    /// An HF vision state dict in open_clip's layout (q, k, v fused).
    public static func openCLIPState(_ hf: [String: Tensor]) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        var thirds: [String: [Int: Tensor]] = [:]
        for (k, v) in hf {
            let (name, third) = name(k)
            if let third { thirds[name, default: [:]][third] = v } else { out[name] = v }
        }
        for (name, parts) in thirds { out[name] = cat([parts[0]!, parts[1]!, parts[2]!], dim: 0) }
        return out
    }

    /// The tensors of open_clip's `state` for the HF names `hfNames`. Missing and unexpected keys
    /// are reported together; `proj` (the projection into CLIP's joint space) is not used.
    public static func hfState(_ state: [String: Tensor], hfNames: [String], source: String) throws -> [String: Tensor]
    {
        var out: [String: Tensor] = [:], used: Set<String> = ["proj"], missing: [String] = []
        for hf in hfNames {
            let (name, third) = name(hf)
            used.insert(name)
            guard let t = state[name] else { missing.append(name); continue }
            let rows = t.shape[0] / 3
            out[hf] = third.map { t.narrow(0, start: $0 * rows, length: rows).contiguous() } ?? t
        }
        let unexpected = state.keys.filter { !used.contains($0) }.sorted()
        guard missing.isEmpty && unexpected.isEmpty else {
            throw ConfigError("\(source): vision_encoder: missing \(missing.sorted()), unexpected \(unexpected)")
        }
        return out
    }
}
