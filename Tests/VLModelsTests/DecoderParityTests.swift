import VLFiles
import VLIO
import XCTest
import VLNN
import VLTensor
@testable import VLModels
import VLTestSupport

/// Decoders and assemblies written by transformers (random weights): logits within 1e-4 and
/// 20 greedy tokens identical.
final class DecoderParityTests: XCTestCase {
    func languageModel(_ family: String, _ name: String) throws -> LanguageModel {
        guard let lm = try ModelRegistry.load(ModelDirectory(fixtureDirectory(family, name))) as? LanguageModel else {
            throw ConfigError("not a decoder")
        }
        return lm
    }

    func greedy(_ lm: LanguageModel, embeddings: Tensor, ids: [Int]) -> [Int] {
        Generator(model: lm).generate(
            promptEmbeddings: embeddings, promptIds: ids, sampling: SamplingParameters(),
            stop: StopConditions(maxNewTokens: 20)
        ).0
    }

    func checkDecoder(_ family: String, _ names: [String]) throws {
        for name in names {
            let lm = try languageModel(family, name)
            let ref = try reference(family, name)
            let ids = ref["input_ids"]!
            let l = ids.shape[1]
            let logits = noGrad {
                lm.logits(lm.hiddenStates(lm.embed(ids), positions: Array(0..<l), cache: nil, keyPadding: nil))
            }
            assertClose(logits, ref["logits"]!, "\(family)/\(name) logits")
            let first = Array(ids.toInts()[0..<l])
            let tokens = greedy(lm, embeddings: noGrad { lm.embed(Tensor(ints: first, shape: [1, l])) }, ids: first)
            XCTAssertEqual(tokens, ref["greedy"]!.toInts(), "\(family)/\(name) greedy tokens")
        }
    }

    func testLlamaFamily() throws {
        try checkDecoder(
            "llama", ["gqa_untied", "tied_bias", "rope_linear", "rope_llama3", "rope_dynamic", "head_dim"])
    }

    func testOPT() throws { try checkDecoder("opt", ["pre_norm", "post_norm_projected"]) }

    func testLlava() throws {
        for name in ["default", "full_multilayer"] {
            let model = try LlavaForConditionalGeneration.load(directory: fixtureDirectory("llava", name))
            let ref = try reference("llava", name)
            let ids = ref["input_ids"]!.toInts()
            let embeds = try noGrad { try model.inputEmbeddings(ids: ids, pixels: ref["pixel_values"]!) }
            let lm = model.language_model
            let logits = noGrad {
                lm.logits(lm.hiddenStates(embeds, positions: Array(0..<ids.count), cache: nil, keyPadding: nil))
            }
            assertClose(logits, ref["logits"]!, "llava/\(name) logits")
            XCTAssertEqual(
                greedy(lm, embeddings: embeds, ids: ids), ref["greedy"]!.toInts(), "llava/\(name) greedy tokens")
        }
    }

    /// Newer transformers name LLaVA's weights `model.language_model.*`, `model.vision_tower.*`,
    /// `model.multi_modal_projector.*` and `lm_head.*`: the same checkpoint renamed gives the same logits.
    func testLlavaNewerKeyLayout() throws {
        let source = fixtureDirectory("llava", "default")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("llava-new-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var renamed: [String: Tensor] = [:]
        for (name, t) in try loadSafetensors(path: source.appendingPathComponent("model.safetensors").path) {
            let key =
                name.hasPrefix("language_model.model.")
                ? "model.language_model." + name.dropFirst("language_model.model.".count)
                : name.hasPrefix("language_model.lm_head.")
                    ? "lm_head." + name.dropFirst("language_model.lm_head.".count)
                    : "model." + name
            renamed[key] = t
        }
        XCTAssertNotNil(renamed["model.vision_tower.embeddings.class_embedding"])
        try writeSafetensors(renamed, to: dir.appendingPathComponent("model.safetensors"))
        try FileManager.default.copyItem(
            at: source.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        let model = try LlavaForConditionalGeneration.load(directory: dir)
        let ref = try reference("llava", "default")
        let ids = ref["input_ids"]!.toInts()
        let embeds = try noGrad { try model.inputEmbeddings(ids: ids, pixels: ref["pixel_values"]!) }
        let lm = model.language_model
        assertClose(
            noGrad { lm.logits(lm.hiddenStates(embeds, positions: Array(0..<ids.count), cache: nil, keyPadding: nil)) },
            ref["logits"]!, "llava newer layout logits")
    }

    func testLlavaRefusesAMismatchedImageCount() throws {
        let model = try LlavaForConditionalGeneration.load(directory: fixtureDirectory("llava", "default"))
        let ref = try reference("llava", "default")
        let oneImage = ref["pixel_values"]!.narrow(0, start: 0, length: 1)
        XCTAssertThrowsError(try model.inputEmbeddings(ids: ref["input_ids"]!.toInts(), pixels: oneImage)) { error in
            XCTAssertTrue("\(error)".contains("32 image tokens; 1 image(s) give 16 features"), "\(error)")
        }
    }

    func testBlip2() throws {
        for name in ["opt", "llama_image_token"] {
            let model = try Blip2ForConditionalGeneration.load(directory: fixtureDirectory("blip2", name))
            let ref = try reference("blip2", name)
            let ids = ref["input_ids"]!.toInts()
            let embeds = try noGrad { try model.inputEmbeddings(ids: ids, pixels: ref["pixel_values"]!) }
            let lm = model.language_model
            let logits = noGrad {
                lm.logits(lm.hiddenStates(embeds, positions: Array(0..<embeds.shape[1]), cache: nil, keyPadding: nil))
            }
            assertClose(logits, ref["logits"]!, "blip2/\(name) logits")
            XCTAssertEqual(
                greedy(lm, embeddings: embeds, ids: ids), ref["greedy"]!.toInts(), "blip2/\(name) greedy tokens")
        }
    }

    /// `--dtype bf16`: the matrices (the vision tower's included) are held as bf16 and the logits
    /// stay within bf16 rounding of transformers' f32 ones.
    func testBF16WeightsStayCloseToF32() throws {
        for (family, name) in [("llava", "default"), ("blip2", "opt")] {
            let model = try ModelRegistry.load(ModelDirectory(fixtureDirectory(family, name)), format: .bf16)
            let ref = try reference(family, name)
            let ids = ref["input_ids"]!.toInts()
            let (embeds, lm): (Tensor, LanguageModel)
            guard let m = model as? any GenerativeModel else { return XCTFail("\(family)") }
            (embeds, lm) = (
                try noGrad { try m.inputEmbeddings(PromptTokens(ids: ids), pixels: ref["pixel_values"]!) },
                m.languageModel
            )
            let matrices = model.namedParameters().filter { $0.1.value.rank == 2 }
            XCTAssertTrue(
                matrices.contains { $0.0.contains("vision") && $0.1.value.dtype == .bf16 },
                "\(family): vision matrices in bf16")
            XCTAssertTrue(matrices.allSatisfy { $0.1.value.dtype == .bf16 }, "\(family): every matrix in bf16")
            let logits = noGrad {
                lm.logits(lm.hiddenStates(embeds, positions: Array(0..<embeds.shape[1]), cache: nil, keyPadding: nil))
            }
            assertClose(logits, ref["logits"]!, tol: 3e-2, "\(family)/\(name) bf16 logits")
        }
    }

    func testBert() throws {
        let model = try BertModel.load(directory: fixtureDirectory("bert", "tiny"))
        let ref = try reference("bert", "tiny")
        let hidden = noGrad { model(ref["input_ids"]!, attentionMask: ref["attention_mask"]!) }
        assertClose(
            hidden.narrow(0, start: 0, length: 1), ref["last_hidden_state"]!.narrow(0, start: 0, length: 1),
            "bert row 0")
        assertClose(
            hidden.narrow(0, start: 1, length: 1).narrow(1, start: 0, length: 7),
            ref["last_hidden_state"]!.narrow(0, start: 1, length: 1).narrow(1, start: 0, length: 7),
            "bert row 1 real tokens")
        assertClose(noGrad { model.pooler!(hidden) }, ref["pooler_output"]!, "bert pooler")
    }
}
