import Foundation
import VLFiles
import VLImaging
import VLIO
import VLModels
import VLNN
import VLTensor
import VLTokenizers

/// Flamingo on the world (recipe `flamingo`): a trained CLIP's vision tower and a trained LLaMA,
/// both frozen, joined by a new Perceiver Resampler and gated cross-attention blocks, trained on
/// interleaved documents — on the world, sequences of scenes, each `<image>` + the scene's caption
/// or one Q&A + `<|endofchunk|>` (`TrainingData.world`), or an interleaved file's documents.
/// As in OpenFlamingo, the embedding rows of `<image>` and `<|endofchunk|>` train too.
public enum FlamingoPretraining {
    public static let mediaToken = "<image>"
    public static let endOfChunk = "<|endofchunk|>"

    /// Copies the language model's tokenizer files to `output`, adding `<image>` and
    /// `<|endofchunk|>` as special tokens after the last id when the tokenizer lacks them.
    public static func writeTokenizer(from source: URL, to output: URL) throws {
        let existing = try Tokenizer(directory: source)
        let file = source.appendingPathComponent("tokenizer.json")
        guard var json = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any] else {
            throw RecipeError("\(file.path): not a JSON object")
        }
        var added = json["added_tokens"] as? [[String: Any]] ?? []
        var next = existing.vocabSize
        for token in [mediaToken, endOfChunk] where existing.tokenId(token) == nil {
            added.append([
                "id": next, "content": token, "single_word": false, "lstrip": false, "rstrip": false,
                "normalized": false,
                "special": true,
            ])
            next += 1
        }
        json["added_tokens"] = added
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        try writeAtomically(
            JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .withoutEscapingSlashes]),
            to: output.appendingPathComponent("tokenizer.json"))
        try writeAtomically(
            Data(contentsOf: source.appendingPathComponent("tokenizer_config.json")),
            to: output.appendingPathComponent("tokenizer_config.json"))
    }

    /// `lm` with `vocabSize` token rows; new input and output rows start at the mean of the old
    /// ones (as transformers' `resize_token_embeddings`).
    public static func resized(_ lm: LlamaForCausalLM, vocabSize: Int) throws -> LlamaForCausalLM {
        guard vocabSize > lm.config.vocabSize else { return lm }
        var c = lm.config
        c.vocabSize = vocabSize
        let out = try Init.skipping { try LlamaForCausalLM(c) }
        var state = lm.stateDict()
        for key in ["model.embed_tokens.weight", "lm_head.weight"] {
            guard let w = state[key] else { continue }
            let mean = w.mean(0, keepDim: true).expand([vocabSize - w.shape[0], w.shape[1]])
            state[key] = cat([w, mean], dim: 0).contiguous()
        }
        try out.load(stateDict: state)
        return out
    }

    /// A Flamingo of a trained CLIP's vision tower and `lm` (which has the media tokens), with the
    /// connector comparison's sizes: 8 latents, 2 resampler layers, a gated block every 2 layers.
    public static func assemble(
        clip: CLIPModel, languageModel lm: LlamaForCausalLM, mediaTokenId: Int,
        endOfChunkTokenId: Int
    ) throws -> FlamingoForConditionalGeneration {
        var c = FlamingoConfig()
        (c.vision, c.selection, c.text) = (clip.config.vision, RecipeRunner.worldFeatureSelection, lm.config)
        (c.crossAttnEveryNLayers, c.perceiverDepth, c.perceiverNumLatents) = (2, 2, 8)
        (c.mediaTokenId, c.endOfChunkTokenId) = (mediaTokenId, endOfChunkTokenId)
        let flamingo = try FlamingoForConditionalGeneration(c)
        var state: [String: Tensor] = [:]
        for (k, v) in clip.vision_model.stateDict() { state["vision_encoder.vision_model." + k] = v.clone() }
        for (k, v) in lm.stateDict() { state["model.language_model." + k] = v.clone() }
        try flamingo.load(stateDict: state, strict: false)
        return flamingo
    }

    /// One chunk of an interleaved sequence.
    public static func chunk(_ text: String) -> String { mediaToken + text + endOfChunk }

    /// A prompt of in-context `examples` (one chunk each), then `<image>` and `query` to continue.
    public static func prompt(examples: [String], query: String) -> String {
        examples.map(chunk).joined() + mediaToken + query
    }

    /// A scene's question with its answer, as a chunk's text.
    public static func questionAndAnswer(_ qa: QuestionAnswer) -> String { "\(qa.question) \(qa.answer)" }

    /// A document as a training sequence: its text (BOS, every token but `<image>` learnt, EOS).
    public static func example(_ document: ImageDocument, tokenizer: Tokenizer, mediaTokenId: Int) -> TokenizedExample {
        let ids = tokenizer.encode(document.text) + [tokenizer.eosTokenId].compactMap { $0 }
        return TokenizedExample(ids: ids, trained: ids.map { $0 != mediaTokenId })
    }

    /// Padded batches of `documents`, each with its documents' image rows (`-1` where a document
    /// has fewer images than the batch's longest, padding no text position sees).
    public static func batches(
        _ documents: [ImageDocument], tokenizer: Tokenizer, mediaTokenId: Int
    ) -> Batches<DocumentBatch> {
        let examples = documents.map { example($0, tokenizer: tokenizer, mediaTokenId: mediaTokenId) }
        let padId = tokenizer.padTokenId ?? 0
        return Batches(count: documents.count) { rows in
            let t = rows.map { documents[$0].images.count }.max() ?? 0
            return DocumentBatch(
                batch: LanguageModelBatch(rows.map { examples[$0] }, padId: padId),
                images: rows.map { documents[$0].images + [Int](repeating: -1, count: t - documents[$0].images.count) })
        }
    }

    /// The language-model loss of `trainee` on a batch of documents whose images index `features`
    /// [images, N, Dv] (the frozen tower's).
    public static func loss(
        _ trainee: FlamingoTrainee, features: Tensor,
        mediaTokenId: Int
    ) -> (DocumentBatch, inout RandomGenerator) throws -> (loss: Tensor, samples: Int) {
        let (n, d) = (features.shape[1], features.shape[2])
        let padded = cat([features, Tensor.zeros([1, n, d])], dim: 0), padRow = features.shape[0]
        return { b, _ in
            let size = b.images.count, t = b.images.first?.count ?? 0
            let f = padded.indexSelect(0, b.images.flatMap { $0.map { $0 < 0 ? padRow : $0 } }).reshape([size, t, n, d])
            let length = b.batch.inputs.shape[1], flat = b.batch.inputs.toInts()
            let ids = (0..<size).map { Array(flat[($0 * length)..<(($0 + 1) * length)]) }
            let flamingo = trainee.flamingo
            let hidden = flamingo.hiddenStates(
                trainee.embed(ids), media: flamingo.media(features: f),
                textTimes: ids.map { mediaTimes($0.map { $0 == mediaTokenId }) })
            return (languageModelLoss(logits: trainee.logits(hidden), targets: b.batch.targets), size)
        }
    }

    /// Trains `trainee` on batches of `documents`, whose images' frozen vision features are
    /// `features` [images, N, Dv].
    public static func train(
        _ trainee: FlamingoTrainee, documents: [ImageDocument], features: Tensor, tokenizer: Tokenizer,
        mediaTokenId: Int, trainer: Trainer
    ) throws {
        try trainer.run(
            batches(documents, tokenizer: tokenizer, mediaTokenId: mediaTokenId),
            loss(trainee, features: features, mediaTokenId: mediaTokenId))
    }
}

/// Documents as a padded batch, with the image rows of each (-1: padding).
public struct DocumentBatch {
    public let batch: LanguageModelBatch
    public let images: [[Int]]
}

/// What the `flamingo` stage trains: the resampler and gated blocks of `flamingo` (its language
/// model frozen), and the input and output embedding rows of `tokenIds` as parameters of their
/// own, which `mergeRows` writes back. OpenFlamingo trains the same rows by zeroing the gradient
/// of every other row; separate parameters keep the frozen rows exact under weight decay too.
public final class FlamingoTrainee: Module {
    public let flamingo: FlamingoLlama
    public let token_embeddings: Parameter
    public let token_outputs: Parameter?
    let tokenIds: [Int]

    public init(_ flamingo: FlamingoLlama, tokenIds: [Int]) {
        let lm = flamingo.language_model
        lm.freeze()
        self.flamingo = flamingo
        self.tokenIds = tokenIds
        token_embeddings = Parameter(lm.model.embed_tokens.weight.value.indexSelect(0, tokenIds).contiguous())
        token_outputs = lm.lm_head.map { Parameter($0.weight.value.indexSelect(0, tokenIds).contiguous()) }
    }

    /// Embeddings [B, L, hidden] of rectangular `ids`, the trained rows in place of the frozen ones.
    func embed(_ ids: [[Int]]) -> Tensor {
        let (b, l, k) = (ids.count, ids[0].count, tokenIds.count)
        let flat = ids.flatMap { $0 }
        var pick = [Float](repeating: 0, count: b * l * k), keep = [Float](repeating: 1, count: b * l)
        for (i, id) in flat.enumerated() {
            guard let j = tokenIds.firstIndex(of: id) else { continue }
            (pick[i * k + j], keep[i]) = (1, 0)
        }
        let frozen = flamingo.language_model.embed(Tensor(ints: flat, shape: [b, l]))
        let trained = matmul(Tensor(pick, shape: [b * l, k]), token_embeddings.value).reshape([b, l, -1])
        return frozen * Tensor(keep, shape: [b, l, 1]) + trained
    }

    /// Logits [B, L, vocab], the trained rows' columns in place of the frozen ones.
    func logits(_ hidden: Tensor) -> Tensor {
        let lm = flamingo.language_model
        let (v, k) = (lm.vocabSize, tokenIds.count)
        var place = [Float](repeating: 0, count: v * k), keep = [Float](repeating: 1, count: v)
        for (j, id) in tokenIds.enumerated() { (place[id * k + j], keep[id]) = (1, 0) }
        let trained = linear(linear(hidden, (token_outputs ?? token_embeddings).value), Tensor(place, shape: [v, k]))
        return lm.logits(hidden) * Tensor(keep, shape: [v]) + trained
    }

    /// Writes the trained rows into the language model's embeddings and output layer.
    public func mergeRows() {
        let lm = flamingo.language_model
        write(token_embeddings.value, into: lm.model.embed_tokens.weight)
        if let head = lm.lm_head, let rows = token_outputs { write(rows.value, into: head.weight) }
    }

    private func write(_ rows: Tensor, into p: Parameter) {
        var w = p.value.toArray()
        let d = p.value.shape[1], r = rows.toArray()
        for (j, id) in tokenIds.enumerated() {
            w.replaceSubrange((id * d)..<((id + 1) * d), with: r[(j * d)..<((j + 1) * d)])
        }
        p.value = Tensor(w, shape: p.value.shape)
    }
}
