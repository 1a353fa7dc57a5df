import Foundation
import VLFiles
import VLIO
import VLTensor
import VLTokenizers

/// The tensor types `vlkit convert --to gguf` writes: every matrix in one type (1-D tensors stay f32;
/// a matrix whose rows are not whole 32-weight blocks falls back to f16, as llama.cpp's converter does).
public enum GGUFOutputType: String, CaseIterable, Sendable {
    case f32, f16, q8_0, q4_0

    var matrixType: GGMLType {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .q8_0: return .q8_0
        case .q4_0: return .q4_0
        }
    }
    /// `general.file_type` (llama.cpp's LLAMA_FTYPE_*).
    var fileType: UInt32 {
        switch self {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q8_0: return 7
        }
    }
}

extension LlamaForCausalLM {
    /// Writes a LLaMA-family model (a Hugging Face directory, or a GGUF file re-typed) as a GGUF file
    /// llama.cpp runs: its `{arch}.*` metadata, the tokenizer as `tokenizer.*` (copied as it is from a
    /// GGUF source), ggml's tensor names and, for "llama", the rotary rows interleaved as llama.cpp's
    /// converter does.
    public static func writeGGUF(_ directory: ModelDirectory, to path: String, type: GGUFOutputType) throws {
        let c = try LlamaConfig(directory.config)
        let arch = directory.modelType == "qwen2" ? "qwen2" : "llama"
        guard c.rope.kind == .default || c.rope.kind == .linear else {
            throw ConfigError(
                "\(directory.configPath): rope type \(c.rope.kind.rawValue) cannot be written to GGUF yet")
        }
        var w = GGUFWriter()
        w.add("general.architecture", .string(arch))
        w.add("general.name", .string(directory.url.deletingPathExtension().lastPathComponent))
        w.add("general.file_type", .uint32(type.fileType))
        w.add("general.quantization_version", .uint32(2))
        let u = { (n: Int) in GGUFValue.uint32(UInt32(clamping: n)) }
        w.add("\(arch).vocab_size", u(c.vocabSize))
        w.add("\(arch).context_length", u(c.maxPositionEmbeddings))
        w.add("\(arch).embedding_length", u(c.hiddenSize))
        w.add("\(arch).feed_forward_length", u(c.intermediateSize))
        w.add("\(arch).block_count", u(c.numHiddenLayers))
        w.add("\(arch).attention.head_count", u(c.numAttentionHeads))
        w.add("\(arch).attention.head_count_kv", u(c.kvHeads))
        w.add("\(arch).rope.freq_base", .float32(c.rope.theta))
        w.add("\(arch).rope.dimension_count", u(c.resolvedHeadDim))
        w.add("\(arch).attention.layer_norm_rms_epsilon", .float32(c.rmsNormEps))
        if c.resolvedHeadDim * c.numAttentionHeads != c.hiddenSize {
            w.add("\(arch).attention.key_length", u(c.resolvedHeadDim))
            w.add("\(arch).attention.value_length", u(c.resolvedHeadDim))
        }
        if c.rope.kind == .linear {
            w.add("\(arch).rope.scaling.type", .string("linear"))
            w.add("\(arch).rope.scaling.factor", .float32(c.rope.factor))
        }
        try addTokenizer(directory, to: &w)
        let checkpoint = try directory.checkpoint()
        let names = Set(checkpoint.names)
        for name in tensorOrder(c) where names.contains(name) {
            guard let ggml = ggufName(name) else { continue }
            var t = try checkpoint.tensor(name).dense
            guard UnsafeBufferPointer(start: t.pointer, count: t.count).allSatisfy({ $0.isFinite }) else {
                throw ConfigError("\(directory.url.path): \(name) holds NaN or infinite values; not written")
            }
            if arch == "llama", name.contains("q_proj.") || name.contains("k_proj.") {
                let heads = name.contains("q_proj.") ? c.numAttentionHeads : c.kvHeads
                let order = try rotaryRowOrder(rows: t.shape[0], heads: heads, path: directory.url.path, tensor: name)
                t = interleave(t, order)
            }
            let tensorType: GGMLType =
                t.rank == 2 && type.matrixType.rowBytes(t.shape[1]) != nil ? type.matrixType : t.rank == 2 ? .f16 : .f32
            let bytes = GGUFEncoding.encode(t, as: tensorType)
            w.addTensor(ggml, type: tensorType, dimensions: t.shape.reversed(), data: bytes)
        }
        try w.write(to: path)
    }

    /// Row i of the stored tensor is row `order[i]` of the model's, inverted: the file's row
    /// `order[r]` holds the model's row r.
    static func interleave(_ t: Tensor, _ order: [Int]) -> Tensor {
        let rowLength = t.count / t.shape[0]
        let out = Tensor.uninitialized(t.shape)
        let (src, dst) = (t.pointer, out.mutablePointer)
        for (r, stored) in order.enumerated() {
            (dst + stored * rowLength).update(from: src + r * rowLength, count: rowLength)
        }
        return out
    }

    /// The model's tensors in llama.cpp's file order.
    static func tensorOrder(_ c: LlamaConfig) -> [String] {
        var names = ["model.embed_tokens.weight"]
        let parts = [
            "input_layernorm.weight", "self_attn.q_proj.weight", "self_attn.q_proj.bias", "self_attn.k_proj.weight",
            "self_attn.k_proj.bias", "self_attn.v_proj.weight", "self_attn.v_proj.bias", "self_attn.o_proj.weight",
            "self_attn.o_proj.bias", "post_attention_layernorm.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
            "mlp.down_proj.weight",
        ]
        for layer in 0..<c.numHiddenLayers { names += parts.map { "model.layers.\(layer).\($0)" } }
        return names + ["model.norm.weight", "lm_head.weight"]
    }

    /// `blk.3.ffn_up.weight` for `model.layers.3.mlp.up_proj.weight` (the inverse of `hfName`).
    static func ggufName(_ hf: String) -> String? {
        switch hf {
        case "model.embed_tokens.weight": return "token_embd.weight"
        case "model.norm.weight": return "output_norm.weight"
        case "lm_head.weight": return "output.weight"
        default:
            let parts = hf.split(separator: ".").map(String.init)
            guard parts.count >= 5, parts[0] == "model", parts[1] == "layers", let layer = Int(parts[2]) else {
                return nil
            }
            let part = parts[3..<(parts.count - 1)].joined(separator: ".")
            guard let ggml = ggufLayerParts.first(where: { $0.value == part })?.key else { return nil }
            return "blk.\(layer).\(ggml).\(parts.last!)"
        }
    }

    static func addTokenizer(_ directory: ModelDirectory, to w: inout GGUFWriter) throws {
        if let source = directory.gguf {
            for (key, value) in source.metadata where key.hasPrefix("tokenizer.") { w.add(key, value) }
            return
        }
        let tokenizer = try Tokenizer(directory: directory.url, tokenizerConfig: directory.tokenizerConfig)
        let v = try tokenizer.ggufVocabulary()
        w.add("tokenizer.ggml.model", .string(v.model))
        if let pre = v.pre { w.add("tokenizer.ggml.pre", .string(pre)) }
        w.add("tokenizer.ggml.tokens", .array(v.tokens.map { .string($0) }))
        if let scores = v.scores { w.add("tokenizer.ggml.scores", .array(scores.map { .float32($0) })) }
        if let types = v.tokenTypes { w.add("tokenizer.ggml.token_type", .array(types.map { .int32(Int32($0)) })) }
        if let merges = v.merges { w.add("tokenizer.ggml.merges", .array(merges.map { .string($0) })) }
        for (key, id) in [
            ("bos_token_id", v.bosTokenId), ("eos_token_id", v.eosTokenId), ("unknown_token_id", v.unknownTokenId),
            ("padding_token_id", v.paddingTokenId),
        ] {
            if let id { w.add("tokenizer.ggml.\(key)", .uint32(UInt32(clamping: id))) }
        }
        if let b = v.addBosToken { w.add("tokenizer.ggml.add_bos_token", .bool(b)) }
        if let b = v.addEosToken { w.add("tokenizer.ggml.add_eos_token", .bool(b)) }
        if let b = v.addSpacePrefix { w.add("tokenizer.ggml.add_space_prefix", .bool(b)) }
        if let template = directory.chatTemplate?.text { w.add("tokenizer.chat_template", .string(template)) }
    }
}

/// Tensors in ggml's block types, as ggml's reference quantisers write them.
enum GGUFEncoding {
    static func encode(_ t: Tensor, as type: GGMLType) -> [UInt8] {
        let x = UnsafeBufferPointer(start: t.pointer, count: t.count)
        switch type {
        case .f16: return x.flatMap { withUnsafeBytes(of: floatToF16($0).littleEndian, Array.init) }
        case .q8_0: return blocks(x, bytes: 34, q8_0)
        case .q4_0: return blocks(x, bytes: 18, q4_0)
        default: return x.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        }
    }

    static func blocks(
        _ x: UnsafeBufferPointer<Float>, bytes: Int, _ quantize: (ArraySlice<Float>, inout [UInt8]) -> Void
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(x.count / 32 * bytes)
        let values = Array(x)
        for b in stride(from: 0, to: values.count, by: 32) { quantize(values[b..<b + 32], &out) }
        return out
    }

    static func appendHalf(_ v: Float, _ out: inout [UInt8]) {
        let h = floatToF16(v)
        out += [UInt8(h & 0xFF), UInt8(h >> 8)]
    }

    /// quantize_row_q8_0_ref: d = max|x| / 127, q = round(x / d).
    static func q8_0(_ x: ArraySlice<Float>, _ out: inout [UInt8]) {
        let amax = x.map(abs).max() ?? 0
        let d = amax / 127, id: Float = d != 0 ? 1 / d : 0
        appendHalf(d, &out)
        for v in x { out.append(UInt8(bitPattern: Int8((v * id).rounded()))) }
    }

    /// quantize_row_q4_0_ref: the value of largest magnitude maps to −8; nibbles q = x / d + 8.
    static func q4_0(_ x: ArraySlice<Float>, _ out: inout [UInt8]) {
        var amax: Float = 0, maxValue: Float = 0
        for v in x where abs(v) > amax { (amax, maxValue) = (abs(v), v) }
        let d = maxValue / -8, id: Float = d != 0 ? 1 / d : 0
        appendHalf(d, &out)
        let v = Array(x)
        for j in 0..<16 {
            let lo = UInt8(min(15, Int8(v[j] * id + 8.5))), hi = UInt8(min(15, Int8(v[16 + j] * id + 8.5)))
            out.append(lo | hi << 4)
        }
    }
}
