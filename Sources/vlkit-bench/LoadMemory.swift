import ArgumentParser
import Foundation
import VLImaging
import VLIO
import VLModels
import VLNN
import VLTensor

/// Resident memory in MB now and at its peak (Linux /proc; getrusage elsewhere).
func residentMemoryMB() -> (current: Double, peak: Double) {
    #if os(Linux)
    if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) {
        func field(_ name: String) -> Double {
            for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
                return Double(line.split(separator: " ").dropFirst().first.map(String.init) ?? "0").map { $0 / 1024 }
                    ?? 0
            }
            return 0
        }
        return (field("VmRSS"), field("VmHWM"))
    }
    #endif
    var usage = rusage()
    getrusage(0, &usage)  // RUSAGE_SELF
    return (0, Double(usage.ru_maxrss) / 1_048_576)  // bytes on Darwin
}

/// Loads a CLIP directory (or, with `--llama-bf16`, a LLaMA directory with bf16 weights) and reports
/// time and memory, for `vlkit-bench` (run in its own process so that nothing else has touched memory).
struct MeasureLoad: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "measure-load", shouldDisplay: false)
    @Option var model: String
    @Flag var llamaBf16 = false

    func run() throws {
        if llamaBf16 { return try measureLlama() }
        let before = residentMemoryMB().current
        let start = Date()
        let pipeline = try CLIPPipeline(directory: URL(fileURLWithPath: model))
        let loadSeconds = Date().timeIntervalSince(start)
        let afterLoad = residentMemoryMB().current
        let size = pipeline.model.vision_model.config.imageSize
        _ = pipeline.imageEmbeddings([
            RGBImage(width: size, height: size, pixels: [UInt8](repeating: 128, count: size * size * 3))
        ])
        let afterForward = residentMemoryMB()
        let weights = Double(pipeline.model.parameterCount()) * 4 / 1_048_576
        printJSON([
            "load_seconds": loadSeconds, "rss_before_mb": before, "rss_after_load_mb": afterLoad,
            "rss_after_forward_mb": afterForward.current, "peak_rss_mb": afterForward.peak, "weights_mb": weights,
        ])
    }
}

extension MeasureLoad {
    /// Loading keeps bf16 matrices in the mapped file; a prefill and a few decoded tokens touch them all.
    func measureLlama() throws {
        let before = residentMemoryMB().current
        let start = Date()
        let lm = try LlamaForCausalLM.load(directory: URL(fileURLWithPath: model), format: .bf16)
        let loadSeconds = Date().timeIntervalSince(start)
        let afterLoad = residentMemoryMB().current
        let prompt = noGrad { lm.embed(Tensor(ints: (0..<32).map { $0 + 3 }, shape: [1, 32])) }
        _ = Generator(model: lm).generate(
            promptEmbeddings: prompt, sampling: SamplingParameters(), stop: StopConditions(maxNewTokens: 4))
        let afterForward = residentMemoryMB()
        printJSON([
            "load_seconds": loadSeconds, "rss_before_mb": before, "rss_after_load_mb": afterLoad,
            "rss_after_forward_mb": afterForward.current, "peak_rss_mb": afterForward.peak,
        ])
    }
}

/// Writes a LLaMA with TinyLlama's shapes and bf16 or f16 weights (values irrelevant: memory is measured).
func writeTinyLlamaCheckpoint(to dir: URL, dtype: DType) throws {
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let model = try tinyLlama(.f32)
    var state: [String: Tensor] = [:]
    for (name, p) in model.namedParameters() { state[name] = p.value.to(dtype) }
    try writeSafetensors(state, metadata: ["format": "pt"], to: dir.appendingPathComponent("model.safetensors"))
    let c = model.config
    let config: [String: Any] = [
        "model_type": "llama", "vocab_size": c.vocabSize, "hidden_size": c.hiddenSize,
        "intermediate_size": c.intermediateSize,
        "num_hidden_layers": c.numHiddenLayers, "num_attention_heads": c.numAttentionHeads,
        "num_key_value_heads": c.kvHeads,
        "max_position_embeddings": c.maxPositionEmbeddings, "torch_dtype": dtype == .f16 ? "float16" : "bfloat16",
    ]
    try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
}

/// Writes a random CLIP ViT-B/32 checkpoint (transformers' layout and config) into `dir`.
func writeRandomCLIPCheckpoint(to dir: URL) throws {
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    GlobalRandom.seed(1)
    let model = try CLIPModel(CLIPConfig())
    try writeSafetensors(
        model.stateDict(), metadata: ["format": "pt"], to: dir.appendingPathComponent("model.safetensors"))
    let config = #"{"model_type": "clip", "projection_dim": 512, "text_config": {}, "vision_config": {}}"#
    try config.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
    try #"{"size": {"shortest_edge": 224}, "crop_size": {"height": 224, "width": 224}}"#
        .write(to: dir.appendingPathComponent("preprocessor_config.json"), atomically: true, encoding: .utf8)
    let vocab = (0..<49408).map { "\"t\($0)\": \($0)" }.joined(separator: ",")
    try
        "{\(vocab.replacingOccurrences(of: "\"t49406\"", with: "\"<|startoftext|>\"").replacingOccurrences(of: "\"t49407\"", with: "\"<|endoftext|>\""))}"
        .write(to: dir.appendingPathComponent("vocab.json"), atomically: true, encoding: .utf8)
    try "#version: 0.2\n".write(to: dir.appendingPathComponent("merges.txt"), atomically: true, encoding: .utf8)
}
