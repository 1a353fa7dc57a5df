import Foundation
import VLIO
import VLNN
import VLTensor

/// Writes a LLaMA directory with random weights in the shapes of `c` — `config.json` (without an
/// end-of-sequence token, so generation runs to its token limit) and `model.safetensors` — plus the
/// tokenizer files of `tokenizerDirectory`, for benchmarks and tests that need a model of a given
/// size. `c.vocabSize` must cover the tokenizer's vocabulary.
public func writeRandomLlamaCheckpoint(_ c: LlamaConfig, seed: UInt64, tokenizerDirectory: URL, to dir: URL) throws {
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    GlobalRandom.seed(seed)
    let model = try LlamaForCausalLM(c)
    try writeSafetensors(model.stateDict(), metadata: ["format": "pt"], to: dir.appendingPathComponent("model.safetensors"))
    let config: [String: Any] = [
        "model_type": "llama", "vocab_size": c.vocabSize, "hidden_size": c.hiddenSize, "intermediate_size": c.intermediateSize,
        "num_hidden_layers": c.numHiddenLayers, "num_attention_heads": c.numAttentionHeads, "num_key_value_heads": c.kvHeads,
        "max_position_embeddings": c.maxPositionEmbeddings, "rms_norm_eps": Double(c.rmsNormEps), "tie_word_embeddings": c.tieWordEmbeddings,
        "hidden_act": c.hiddenAct, "bos_token_id": 1,
    ]
    try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(to: dir.appendingPathComponent("config.json"))
    try FileManager.default.copyItem(at: tokenizerDirectory.appendingPathComponent("tokenizer.json"), to: dir.appendingPathComponent("tokenizer.json"))
    // The tokenizer's own configuration would name an end-of-sequence token; this one names none.
    try #"{"bos_token": "<s>"}"#.write(to: dir.appendingPathComponent("tokenizer_config.json"), atomically: true, encoding: .utf8)
}
