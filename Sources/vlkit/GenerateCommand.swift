import ArgumentParser
import Foundation
import VLImaging
import VLModels
import VLTensor

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text with a LLaMA-family, OPT, LLaVA, BLIP-2 or Flamingo model, streaming it to stdout.")
    @OptionGroup var options: GenerationOptions
    @Option(help: "The prompt.") var prompt: String
    @Option(name: .customLong("image"), help: "An image (repeatable); `<image>` in the prompt marks where each goes.")
    var images: [String] = []
    @Flag(help: "Use the prompt as it is (no chat template or conversation format).") var raw = false
    @Option(name: .customLong("stop"), help: "Stop when this text appears (repeatable; not printed).") var stopStrings:
        [String] = []
    @Flag(help: "Print {\"tokens\": […], \"text\": \"…\"} at the end instead of streaming.") var json = false

    func run() throws {
        let pictures = try images.map(options.image)
        let pipeline = try options.loadPipeline()
        let result = try pipeline.generate(
            prompt: prompt, images: pictures, raw: raw, sampling: options.sampling,
            maxTokens: options.maxTokens, stopStrings: stopStrings.filter { !$0.isEmpty }
        ) { piece in
            if !json { FileHandle.standardOutput.write(piece.data(using: .utf8)!) }
            return true
        }
        if json {
            printJSON([
                "tokens": result.tokens, "text": result.text, "finish_reason": result.finishReason.rawValue,
                "prompt_tokens": result.promptTokens,
            ])
        } else {
            FileHandle.standardOutput.write("\n".data(using: .utf8)!)
        }
    }
}
