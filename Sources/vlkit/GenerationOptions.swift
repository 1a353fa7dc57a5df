import ArgumentParser
import Foundation
import VLImaging
import VLModels
import VLTensor

/// Options shared by `generate` and `chat`.
struct GenerationOptions: ParsableArguments {
    @Option(help: "A Hugging Face model directory, or a GGUF file (llama.cpp's).") var model: String
    @Option(help: "With a GGUF --model: llama.cpp's vision projector file (mmproj) that makes it a LLaVA.")
    var mmproj: String?
    @Option(help: "Most new tokens per answer.") var maxTokens = 128
    @Option(help: "0 for greedy decoding.") var temperature: Float = 0
    @Option(help: "Nucleus sampling mass (1: off).") var topP: Float = 1
    @Option(help: "Sample among the K most likely (0: off).") var topK = 0
    @Option(help: "Penalty for repeated tokens (1: off).") var repetitionPenalty: Float = 1
    @Option(help: "Random seed for sampling.") var seed: UInt64 = 0
    @Option(help: "Refuse images with more pixels than this.") var maxPixels = RGBImage.defaultMaxPixels
    @Option(
        help: """
            Weights in memory: auto (f32; a GGUF file's quantised blocks stay quantised), f32 (everything \
            de-quantised), or bf16 for the weight matrices (half the memory; faster decoding and image encoding).
            """
    )
    var dtype = "auto"
    @Option(help: "Quantise the language model's weights at load: q8 or q4 (32-weight blocks, weight-only).")
    var quantize: String?

    func validate() throws {
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be positive") }
        guard temperature >= 0 else { throw ValidationError("--temperature must not be negative") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard topK >= 0 else { throw ValidationError("--top-k must not be negative") }
        guard repetitionPenalty > 0 else { throw ValidationError("--repetition-penalty must be positive") }
        guard WeightFormat(rawValue: dtype) != nil else { throw ValidationError("--dtype must be auto, f32 or bf16") }
        if let quantize, QuantizationFormat(rawValue: quantize) == nil {
            throw ValidationError("--quantize must be q8 or q4")
        }
    }

    var sampling: SamplingParameters {
        SamplingParameters(
            temperature: temperature, topK: topK, topP: topP, repetitionPenalty: repetitionPenalty, seed: seed)
    }

    func loadPipeline() throws -> GenerationPipeline {
        let url = URL(fileURLWithPath: model)
        let directory = try mmproj.map { try ModelRegistry.open(url, mmproj: URL(fileURLWithPath: $0)) }
            ?? ModelRegistry.open(url)
        return try GenerationPipeline(
            directory, format: WeightFormat(rawValue: dtype)!,
            quantization: quantize.flatMap { QuantizationFormat(rawValue: $0) })
    }

    func image(_ path: String) throws -> RGBImage {
        try RGBImage(contentsOf: URL(fileURLWithPath: path), maxPixels: maxPixels)
    }
}
