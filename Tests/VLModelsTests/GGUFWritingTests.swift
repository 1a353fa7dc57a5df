import Foundation
import VLIO
import VLNN
import VLTensor
import VLTestSupport
import VLTokenizers
import XCTest

@testable import VLModels

/// `vlkit convert --to gguf`: files llama.cpp runs. tools/fixtures/make_gguf_written_fixtures.py had
/// llama.cpp load what the writer wrote from a Hugging Face LLaMA and from two GGUF fixtures in every
/// output type and decode greedily; here the writer writes the same bytes again, and VLKit reads them
/// back to llama.cpp's tokens and ids.
final class GGUFWritingTests: TemporaryDirectoryTestCase {
    struct Case: Decodable {
        struct Tokens: Decodable { let text: String, transformers: [Int], llama_cpp: [Int] }
        let source: String, type: String, fnv1a: String
        let prompt: [Int], llama_cpp_greedy: [Int]
        let tokens: [Tokens]?
    }

    static func fnv1a(_ data: Data) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in data { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return String(format: "%016lx", h)
    }

    func cases() throws -> [Case] {
        let url = fixturesRoot.appendingPathComponent("gguf_models/written_by_vlkit.json")
        return try JSONDecoder().decode([Case].self, from: Data(contentsOf: url))
    }

    func greedy(_ lm: LanguageModel, _ ids: [Int], _ n: Int) -> [Int] {
        Generator(model: lm).generate(
            promptEmbeddings: noGrad { lm.embed(Tensor(ints: ids, shape: [1, ids.count])) }, promptIds: ids,
            sampling: SamplingParameters(), stop: StopConditions(maxNewTokens: n)
        ).0
    }

    func testLlamaCppRunsWhatTheWriterWrites() throws {
        for c in try cases() {
            let label = "\(c.source) as \(c.type)"
            let out = directory.appendingPathComponent("\(c.type).gguf")
            let source = try ModelRegistry.open(fixturesRoot.appendingPathComponent(c.source))
            try LlamaForCausalLM.writeGGUF(source, to: out.path, type: XCTUnwrap(GGUFOutputType(rawValue: c.type)))
            XCTAssertEqual(Self.fnv1a(try Data(contentsOf: out)), c.fnv1a, "\(label): the bytes llama.cpp ran")
            let written = try LlamaForCausalLM.load(directory: out, format: .auto)
            XCTAssertEqual(greedy(written, c.prompt, c.llama_cpp_greedy.count), c.llama_cpp_greedy, label)
            guard let expected = c.tokens else { continue }
            let p = try GenerationPipeline(directory: out)
            for t in expected {
                XCTAssertEqual(p.tokenizer.encode(t.text), t.transformers, "\(label): \(t.text.debugDescription)")
            }
        }
    }

    /// f32 out and back: the same logits as the directory (rotary rows interleaved and restored), and the
    /// exported tokenizer (scores from merge ranks) gives the directory tokenizer's ids. (Not for a leading
    /// space: transformers' reading of a SentencePiece GGUF drops its second "▁", llama.cpp's keeps it.)
    func testRoundTripKeepsLogitsAndTokens() throws {
        let dir = fixturesRoot.appendingPathComponent("generate/llama")
        let out = directory.appendingPathComponent("llama.gguf")
        try LlamaForCausalLM.writeGGUF(try ModelRegistry.open(dir), to: out.path, type: .f32)
        let (a, b) = (try LlamaForCausalLM.load(directory: dir), try LlamaForCausalLM.load(directory: out))
        let ids = Tensor(ints: [1, 5, 9, 40, 77, 3, 12], shape: [1, 7])
        func logits(_ m: LlamaForCausalLM) -> Tensor {
            noGrad { m.logits(m.hiddenStates(m.embed(ids), positions: Array(0..<7), cache: nil, keyPadding: nil)) }
        }
        assertClose(logits(b), logits(a), tol: 1e-6, "logits through GGUF")
        let original = try Tokenizer(directory: dir)
        let exported = try GenerationPipeline(directory: out).tokenizer
        for text in ["Hello world", "the red circle is above", "double  spaces ", "ünïcödé 中文 😀", "a\nb"] {
            XCTAssertEqual(exported.encode(text), original.encode(text), text)
            XCTAssertEqual(exported.decode(original.encode(text)), original.decode(original.encode(text)), text)
        }
    }

    func testUnwritableInputsAreClearErrors() throws {
        let bad = directory.appendingPathComponent("nan")
        try FileManager.default.createDirectory(at: bad, withIntermediateDirectories: true)
        let source = fixturesRoot.appendingPathComponent("generate/llama")
        for f in ["config.json", "tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(f), to: bad.appendingPathComponent(f))
        }
        var state = try loadSafetensors(path: source.appendingPathComponent("model.safetensors").path)
        let w = state["model.norm.weight"]!.clone()
        w.mutablePointer[0] = .nan
        state["model.norm.weight"] = w
        try writeSafetensors(state, to: bad.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(
            try LlamaForCausalLM.writeGGUF(
                ModelRegistry.open(bad), to: bad.appendingPathComponent("o.gguf").path, type: .f16)
        ) { e in XCTAssertTrue("\(e)".contains("NaN"), "\(e)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: bad.appendingPathComponent("o.gguf").path))
    }
}
