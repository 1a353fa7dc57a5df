import ArgumentParser
import Foundation
import VLImaging
import VLModels
import VLTensor

/// Options shared by `generate` and `chat`.
struct GenerationOptions: ParsableArguments {
    @Option(help: "A Hugging Face model directory with tokenizer.json.") var model: String
    @Option(help: "Most new tokens per answer.") var maxTokens = 128
    @Option(help: "0 for greedy decoding.") var temperature: Float = 0
    @Option(help: "Nucleus sampling mass (1: off).") var topP: Float = 1
    @Option(help: "Sample among the K most likely (0: off).") var topK = 0
    @Option(help: "Penalty for repeated tokens (1: off).") var repetitionPenalty: Float = 1
    @Option(help: "Random seed for sampling.") var seed: UInt64 = 0
    @Option(help: "Refuse images with more pixels than this.") var maxPixels = RGBImage.defaultMaxPixels
    @Option(help: "Weights in memory: f32, or bf16 for the weight matrices (half the memory; faster decoding and image encoding).")
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

    var sampling: SamplingParameters {
        SamplingParameters(temperature: temperature, topK: topK, topP: topP, repetitionPenalty: repetitionPenalty, seed: seed)
    }

    func loadPipeline() throws -> GenerationPipeline {
        try GenerationPipeline(directory: URL(fileURLWithPath: model), format: WeightFormat(rawValue: dtype)!,
                               quantization: quantize.flatMap { QuantizationFormat(rawValue: $0) })
    }

    func image(_ path: String) throws -> RGBImage { try RGBImage(contentsOf: URL(fileURLWithPath: path), maxPixels: maxPixels) }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text with a LLaMA-family, OPT, LLaVA, BLIP-2 or Flamingo model, streaming it to stdout.")
    @OptionGroup var options: GenerationOptions
    @Option(help: "The prompt.") var prompt: String
    @Option(name: .customLong("image"), help: "An image (repeatable); `<image>` in the prompt marks where each goes.")
    var images: [String] = []
    @Flag(help: "Use the prompt as it is (no chat template or conversation format).") var raw = false
    @Option(name: .customLong("stop"), help: "Stop when this text appears (repeatable; not printed).") var stopStrings: [String] = []
    @Flag(help: "Print {\"tokens\": […], \"text\": \"…\"} at the end instead of streaming.") var json = false

    func run() throws {
        let pictures = try images.map(options.image)
        let pipeline = try options.loadPipeline()
        let result = try pipeline.generate(prompt: prompt, images: pictures, raw: raw, sampling: options.sampling,
                                           maxTokens: options.maxTokens, stopStrings: stopStrings.filter { !$0.isEmpty }) { piece in
            if !json { FileHandle.standardOutput.write(piece.data(using: .utf8)!) }
            return true
        }
        if json {
            printJSON(["tokens": result.tokens, "text": result.text, "finish_reason": result.finishReason.rawValue,
                       "prompt_tokens": result.promptTokens])
        } else {
            FileHandle.standardOutput.write("\n".data(using: .utf8)!)
        }
    }
}

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk with a model: one line a turn, with history. /image PATH attaches an image, /reset forgets, /exit ends.")
    @OptionGroup var options: GenerationOptions
    @Option(help: "An image attached to the first message.") var image: String?

    func run() throws {
        let pipeline = try options.loadPipeline()
        var conversation: [ChatMessage] = []
        var images: [RGBImage] = []
        var pending = try image.map { [try options.image($0)] } ?? []
        let interactive = isatty(STDIN_FILENO) != 0
        func prompt() { if interactive { FileHandle.standardError.write("> ".data(using: .utf8)!) } }
        prompt()
        while let line = readLine() {
            let text = line.trimmingCharacters(in: .whitespaces)
            defer { prompt() }
            if text.isEmpty { continue }
            if text == "/exit" || text == "/quit" { break }
            if text == "/reset" {
                (conversation, images, pending) = ([], [], [])
                note("(conversation cleared)")
                continue
            }
            if text.hasPrefix("/image ") {
                do {
                    pending.append(try options.image(String(text.dropFirst(7)).trimmingCharacters(in: .whitespaces)))
                    note("(image attached to the next message)")
                } catch {
                    note("error: \(error)")
                }
                continue
            }
            if text.hasPrefix("/") {
                note("error: unknown command \(text.split(separator: " ")[0]); use /image PATH, /reset or /exit")
                continue
            }
            let turn = ChatMessage.turn(role: "user", text: text, images: pending.count, asParts: pipeline.takesImages)
            do {
                let result = try pipeline.reply(to: conversation + [turn], images: images + pending, sampling: options.sampling,
                                                maxTokens: options.maxTokens) { piece in
                    FileHandle.standardOutput.write(piece.data(using: .utf8)!)
                    return true
                }
                FileHandle.standardOutput.write("\n".data(using: .utf8)!)
                conversation += [turn, .turn(role: "assistant", text: result.text, images: 0, asParts: pipeline.takesImages)]
                images += pending
                pending = []
            } catch {
                note("error: \(error)")  // the turn is dropped; the conversation goes on
            }
        }
    }
}
