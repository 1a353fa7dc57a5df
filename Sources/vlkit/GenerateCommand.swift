import ArgumentParser
import Foundation
import VLImaging
import VLModels
import VLTensor

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text with a LLaMA-family, OPT, LLaVA or BLIP-2 model, streaming it to stdout.")
    @Option(help: "A Hugging Face model directory with tokenizer.json.") var model: String
    @Option(help: "The prompt.") var prompt: String
    @Option(name: .customLong("image"), help: "An image (repeatable); `<image>` in the prompt marks where each goes.")
    var images: [String] = []
    @Option(help: "Most new tokens.") var maxTokens = 128
    @Option(help: "0 for greedy decoding.") var temperature: Float = 0
    @Option(help: "Nucleus sampling mass (1: off).") var topP: Float = 1
    @Option(help: "Sample among the K most likely (0: off).") var topK = 0
    @Option(help: "Penalty for repeated tokens (1: off).") var repetitionPenalty: Float = 1
    @Option(help: "Random seed for sampling.") var seed: UInt64 = 0
    @Flag(help: "Use the prompt as it is (no conversation format).") var raw = false
    @Flag(help: "Print {\"tokens\": […], \"text\": \"…\"} at the end instead of streaming.") var json = false
    @Option(help: "Refuse images with more pixels than this.") var maxPixels = RGBImage.defaultMaxPixels
    @Option(help: "Weights in memory: f32, or bf16 for the language model's matrices (half the memory, faster decoding).")
    var dtype = "f32"
    @Option(help: "Quantise the language model's weights at load: q8 or q4 (32-weight blocks, weight-only).")
    var quantize: String?

    func validate() throws {
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be positive") }
        guard temperature >= 0 else { throw ValidationError("--temperature must not be negative") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard topK >= 0 else { throw ValidationError("--top-k must not be negative") }
        guard repetitionPenalty > 0 else { throw ValidationError("--repetition-penalty must be positive") }
        guard WeightFormat(rawValue: dtype) != nil else { throw ValidationError("--dtype must be f32 or bf16") }
        if let quantize, QuantizationFormat(rawValue: quantize) == nil { throw ValidationError("--quantize must be q8 or q4") }
    }

    func run() throws {
        let pictures = try images.map { try RGBImage(contentsOf: URL(fileURLWithPath: $0), maxPixels: maxPixels) }
        let pipeline = try GenerationPipeline(directory: URL(fileURLWithPath: model), format: WeightFormat(rawValue: dtype)!,
                                              quantization: quantize.flatMap { QuantizationFormat(rawValue: $0) })
        let sampling = SamplingParameters(temperature: temperature, topK: topK, topP: topP, repetitionPenalty: repetitionPenalty, seed: seed)
        let result = try pipeline.generate(prompt: prompt, images: pictures, raw: raw, sampling: sampling, maxTokens: maxTokens) { piece in
            if !json {
                FileHandle.standardOutput.write(piece.data(using: .utf8)!)
            }
            return true
        }
        if json {
            printJSON(["tokens": result.tokens, "text": result.text, "finish_reason": result.finishReason.rawValue,
                       "prompt_tokens": result.promptTokens])
        } else {
            print("")
        }
    }
}
