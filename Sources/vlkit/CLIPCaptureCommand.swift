import ArgumentParser
import Foundation
import VLImaging
import VLIO
import VLNN
import VLModels
import VLTraining
import VLTensor

extension CLIPCommand {
    struct Capture: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the inputs and every layer's activations to safetensors, to compare with transformers "
                + "(tools/debug/compare_activations.py finds the first layer that diverges).")
        @OptionGroup var options: CLIPModelOptions
        @Option(help: "The image file.") var image: String
        @Option(help: "The text.") var text: String
        @Option(help: "Where to write the activations.") var out: String
        @Option(help: "Only module paths containing this text.") var filter: String?

        func run() throws {
            let pipeline = try options.load()
            let picture = try RGBImage(contentsOf: URL(fileURLWithPath: image), maxPixels: options.maxPixels)
            let pixels = pipeline.processor.batch([picture])
            let (ids, mask) = pipeline.tokenizer(
                [text], padTo: Swift.min(pipeline.tokenizer.encode(text).count, pipeline.tokenizer.maxLength))
            let idTensor = Tensor(ints: ids[0], shape: [1, ids[0].count])
            let maskTensor = Tensor(ints: mask[0], shape: [1, mask[0].count])
            let capture = ActivationCapture { name in filter.map { name.contains($0) } ?? true }
            capture.run(on: pipeline.model) {
                _ = noGrad { pipeline.model(pixels: pixels, ids: idTensor, attentionMask: maskTensor.to(.f32)) }
            }
            var tensors: [String: Tensor] = [
                "input.pixel_values": pixels, "input.input_ids": idTensor, "input.attention_mask": maskTensor,
            ]
            var order: [String] = []
            for (name, t) in capture.byName() { tensors["act." + name] = t }
            var seen: [String: Int] = [:]
            for (name, _) in capture.activations {
                let n = seen[name, default: 0]
                order.append(n == 0 ? name : "\(name)#\(n)")
                seen[name] = n + 1
            }
            let orderJSON = String(data: try JSONSerialization.data(withJSONObject: order), encoding: .utf8)!
            try writeSafetensors(tensors, metadata: ["order": orderJSON], to: URL(fileURLWithPath: out))
            note("wrote \(order.count) activations to \(out)")
        }
    }
}
