import Foundation
import XCTest
import VLIO
import VLNN
import VLTensor
import VLTokenizers
@testable import VLModels
import VLTestSupport

/// MiniGPT-4 assembled from a BLIP-2 directory, a LLaMA directory and a projection file.
final class MiniGPT4Tests: XCTestCase {
    func projectionFile(out: Int, in inFeatures: Int) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("proj-\(UUID().uuidString).safetensors")
        var rng = RandomGenerator(seed: 4)
        try writeSafetensors(
            [
                "llama_proj.weight": Tensor.randn([out, inFeatures], std: 0.1, rng: &rng),
                "llama_proj.bias": Tensor.zeros([out]),
            ],
            to: url)
        return url
    }

    func testAssemblyPromptAndTrainableProjection() throws {
        let proj = try projectionFile(out: 32, in: 32)
        defer { try? FileManager.default.removeItem(at: proj) }
        let llama = fixtureDirectory("generate", "llama")
        let model = try MiniGPT4.assemble(
            blip2: fixtureDirectory("blip2", "llama_image_token"), llama: llama, projection: proj)
        XCTAssertEqual(model.parameterCount(trainableOnly: true), 32 * 32 + 32, "only llama_proj trains")
        let tokenizer = try Tokenizer(directory: llama)
        var rng = RandomGenerator(seed: 5)
        let pixels = Tensor.randn([1, 3, 16, 16], rng: &rng)
        let prompt = MiniGPT4.promptTemplate.replacingOccurrences(of: "{}", with: "What shape is it?")
        let embeddings = try noGrad { try model.inputEmbeddings(prompt: prompt, tokenizer: tokenizer, pixels: pixels) }
        let before = tokenizer.encode("###Human: <Img>"),
            after = tokenizer.encode("</Img> What shape is it? ###Assistant:", addSpecialTokens: false)
        let queries = model.query_tokens.shape[1]
        XCTAssertEqual(embeddings.shape, [1, before.count + queries + after.count, 32])
        let image = noGrad { model.imageEmbeddings(pixels) }
        let diff = zip(embeddings.narrow(1, start: before.count, length: queries).toArray(), image.toArray()).map {
            abs($0 - $1)
        }.max()!
        XCTAssertEqual(diff, 0, "the image embeddings sit where <ImageHere> was")
        // One step of the paper's stage-2 loss: gradients reach only the projection.
        model.train()
        let lm = model.language_model
        let e = try model.inputEmbeddings(prompt: prompt, tokenizer: tokenizer, pixels: pixels)
        let logits = lm.logits(lm.hiddenStates(e, positions: Array(0..<e.shape[1]), cache: nil, keyPadding: nil))
        let labels = Tensor(ints: [Int](repeating: -100, count: e.shape[1] - 1) + [5])
        crossEntropy(logits.reshape([-1, lm.vocabSize]), labels).backward()
        XCTAssertNotNil(model.llama_proj.weight.grad)
        XCTAssertNil(model.qformer.layernorm.weight!.grad)
        XCTAssertNil(lm.model.embed_tokens.weight.grad)
    }

    func testAMismatchedProjectionIsRefused() throws {
        let proj = try projectionFile(out: 48, in: 32)
        defer { try? FileManager.default.removeItem(at: proj) }
        XCTAssertThrowsError(
            try MiniGPT4.assemble(
                blip2: fixtureDirectory("blip2", "llama_image_token"),
                llama: fixtureDirectory("generate", "llama"), projection: proj)
        ) {
            XCTAssertTrue("\($0)".contains("shape mismatch for weight: model [32, 32], checkpoint [48, 32]"), "\($0)")
        }
    }
}
