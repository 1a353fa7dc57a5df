import Foundation
import VLFiles
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
    try writeSafetensors(
        model.stateDict(), metadata: ["format": "pt"], to: dir.appendingPathComponent("model.safetensors"))
    var config = c.jsonObject
    (config["bos_token_id"], config["eos_token_id"]) = (1, NSNull())
    try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(
        to: dir.appendingPathComponent("config.json"))
    try FileManager.default.copyItem(
        at: tokenizerDirectory.appendingPathComponent("tokenizer.json"),
        to: dir.appendingPathComponent("tokenizer.json"))
    // The tokenizer's own configuration would name an end-of-sequence token; this one names none.
    try #"{"bos_token": "<s>"}"#.write(
        to: dir.appendingPathComponent("tokenizer_config.json"), atomically: true, encoding: .utf8)
}
