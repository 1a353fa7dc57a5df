import Foundation
import VLModels
import VLNN
import VLTensor
import VLTokenizers

/// BLIP-2's two pre-training stages (Li et al. 2023) on a frozen image encoder. Stage 1
/// (representation learning) trains the Q-Former — learned queries, BERT layers with
/// cross-attention, text embeddings and heads — with ITC + ITM (hard negatives) + ITG.
/// Stage 2 (generative learning) puts a new `language_projection` between the Q-Former's query
/// outputs and a frozen LLM and trains queries, Q-Former and projection with the LM loss.
public enum Blip2Pretraining {
    /// A Q-Former sized for the world: 2 layers of 128, each cross-attending to the image, 8 queries.
    public static func worldStage1Config(
        vision: Blip2VisionConfig, vocabSize: Int, maxTextLength: Int = 32
    ) -> Blip2Config {
        var c = Blip2Config()
        c.vision = vision
        c.qformer.hiddenSize = 128
        c.qformer.numHiddenLayers = 2
        c.qformer.numAttentionHeads = 4
        c.qformer.intermediateSize = 512
        c.qformer.crossAttentionFrequency = 1
        c.qformer.encoderHiddenSize = vision.hiddenSize
        c.qformer.vocabSize = vocabSize
        c.qformer.maxPositionEmbeddings = maxTextLength
        c.qformer.useQformerTextInput = true
        c.numQueryTokens = 8
        c.imageTextHiddenSize = 128
        return c
    }

    /// The stage-1 model with LAVIS's training heads around a copy of `vision`, which is frozen.
    public static func assembleStage1(vision: Blip2VisionModel, vocabSize: Int) throws -> Blip2ForImageTextRetrieval {
        let model = try Blip2ForImageTextRetrieval(
            worldStage1Config(vision: vision.config, vocabSize: vocabSize), trainingHeads: true)
        try model.vision_model.load(stateDict: vision.stateDict().mapValues { $0.clone() })
        model.vision_model.freeze()
        return model
    }

    /// The frozen encoder's features for every image, computed once: [N, tokens, vision hidden].
    public static func visionFeatures(_ vision: Blip2VisionModel, pixels: Tensor, chunk: Int = 256) -> Tensor {
        noGrad {
            let n = pixels.shape[0]
            return cat(
                stride(from: 0, to: n, by: chunk).map {
                    vision.features(pixels.narrow(0, start: $0, length: min(chunk, n - $0))).contiguous()
                },
                dim: 0)
        }
    }

    /// Texts as the Q-Former reads them: [CLS] text [SEP], padded to the longest; `decoderIds` have
    /// [DEC] in place of [CLS] (what ITG learns to continue).
    public struct EncodedTexts {
        public let ids: [[Int]], decoderIds: [[Int]], mask: [[Int]]

        public init(_ texts: [String], tokenizer: WordPieceTokenizer, decoderTokenId: Int) {
            let encoded = texts.map { tokenizer.encode($0) }
            let length = encoded.map(\.count).max() ?? 0
            ids = encoded.map { $0 + [Int](repeating: tokenizer.padTokenId, count: length - $0.count) }
            decoderIds = ids.map { [decoderTokenId] + $0.dropFirst() }
            mask = encoded.map { [Int](repeating: 1, count: $0.count) + [Int](repeating: 0, count: length - $0.count) }
        }

        func tensor(_ rows: [[Int]], _ chosen: [Int]) -> Tensor {
            Tensor(ints: chosen.flatMap { rows[$0] }, shape: [chosen.count, rows[0].count])
        }
    }

    /// Batches of image–caption pairs for stage 1, a batch's repeated captions left out (all but
    /// the first), so that no in-batch negative of ITC or ITM is in truth a match: the world
    /// repeats short captions.
    public static func stage1Batches(
        _ captions: [ImageText], tokenizer: WordPieceTokenizer, decoderTokenId: Int
    ) -> Batches<Stage1Batch> {
        let texts = EncodedTexts(captions.map(\.text), tokenizer: tokenizer, decoderTokenId: decoderTokenId)
        return Batches(count: captions.count) { picked in
            var seen = Set<String>()
            let rows = picked.filter { seen.insert(captions[$0].text).inserted }
            return Stage1Batch(
                images: rows.map { captions[$0].image }, ids: texts.tensor(texts.ids, rows),
                decoderIds: texts.tensor(texts.decoderIds, rows), attentionMask: texts.tensor(texts.mask, rows))
        }
    }

    /// ITC + ITM + ITG summed, as LAVIS trains, on a batch whose images index `features` (the frozen encoder's).
    public static func stage1Loss(
        _ model: Blip2ForImageTextRetrieval, features: Tensor
    )
        -> (Stage1Batch, inout RandomGenerator) throws -> (loss: Tensor, samples: Int)
    {
        { b, rng in
            let losses = model.stage1Losses(
                image: features.indexSelect(0, b.images), ids: b.ids, decoderIds: b.decoderIds,
                attentionMask: b.attentionMask, rng: &rng)
            return (losses.total, b.images.count)
        }
    }

    /// Stage 1 on (image `features` row of each caption, caption).
    public static func trainStage1(
        _ model: Blip2ForImageTextRetrieval, features: Tensor, captions: [ImageText],
        tokenizer: WordPieceTokenizer, decoderTokenId: Int, trainer: Trainer
    ) throws {
        try trainer.run(
            stage1Batches(captions, tokenizer: tokenizer, decoderTokenId: decoderTokenId),
            stage1Loss(model, features: features))
    }

    /// ITC similarities [image][text] row-major (best query per pair) of image `features` and `texts`.
    public static func similarities(
        _ model: Blip2ForImageTextRetrieval, features: Tensor, texts: [String],
        tokenizer: WordPieceTokenizer
    ) -> [Float] {
        let encoded = EncodedTexts(texts, tokenizer: tokenizer, decoderTokenId: tokenizer.clsTokenId)
        let all = Array(texts.indices)
        return noGrad {
            let text = model.textEmbeds(
                ids: encoded.tensor(encoded.ids, all), attentionMask: encoded.tensor(encoded.mask, all))
            return queryTextSimilarity(imageEmbeds: model.imageEmbeds(image: features), textEmbeds: text).toArray()
        }
    }
}

extension Blip2Pretraining {
    /// The stage-2 model: stage 1's vision tower, queries and Q-Former (without its text-only
    /// parts), a new `language_projection`, and `languageModel`. The query outputs take the place
    /// of `imageTokenId` tokens, which the prompt starts with (transformers' processor does the same).
    public static func assembleStage2(
        stage1: Blip2ForImageTextRetrieval, languageModel: LlamaForCausalLM,
        imageTokenId: Int
    ) throws -> Blip2ForConditionalGeneration {
        var c = stage1.config
        c.qformer.useQformerTextInput = false
        c.text = .llama(languageModel.config)
        c.imageTokenId = imageTokenId
        let model = try Init.skipping { try Blip2ForConditionalGeneration(c) }
        let names = Set(model.namedParameters().map(\.0))
        var state: [String: Tensor] = [:]
        for (k, v) in stage1.stateDict() where names.contains(k) { state[k] = v.clone() }
        for (k, v) in languageModel.stateDict() { state["language_model." + k] = v.clone() }
        // Init.skipping left the projection uninitialised: PyTorch's default initialisation.
        for (k, v) in Linear(c.qformer.hiddenSize, c.text.hiddenSize).stateDict() {
            state["language_projection." + k] = v
        }
        try model.load(stateDict: state)
        model.freeze()
        model.unfreeze(["query_tokens", "qformer", "language_projection"])
        return model
    }

    /// A prompt (caption request or question) about image `image`, answered by `answer`: the query
    /// outputs' image tokens, then BOS, prompt and answer as `vlkit generate` tokenises them.
    public static func example(
        _ tokenizer: Tokenizer, model: Blip2ForConditionalGeneration, prompt: String, answer: String,
        image: Int
    ) -> TokenizedExample {
        let e = TokenizedExample.promptResponse(tokenizer, prompt: prompt, response: answer, image: image)
        let q = model.config.numQueryTokens
        return TokenizedExample(
            ids: [Int](repeating: model.config.imageTokenId!, count: q) + e.ids,
            trained: [Bool](repeating: false, count: q) + e.trained, image: image)
    }

    /// Stage 2's LM loss of a batch whose images index `features` (the frozen encoder's).
    public static func stage2Loss(
        _ model: Blip2ForConditionalGeneration, features: Tensor
    )
        -> (ExampleBatch, inout RandomGenerator) throws -> (loss: Tensor, samples: Int)
    {
        { b, _ in
            try LlavaAlignment.loss(model.language_model, imageTokenId: model.config.imageTokenId!, b) { rows in
                let q = model.query_tokens.value
                return model.language_projection(
                    model.qformer(
                        queries: q.expand([rows.count, q.shape[1], q.shape[2]]),
                        image: features.indexSelect(0, rows)))
            }
        }
    }

    /// Stage 2 on batches of `examples` whose images index `features` (the frozen encoder's).
    public static func trainStage2(
        _ model: Blip2ForConditionalGeneration, examples: [TokenizedExample], features: Tensor,
        padId: Int, trainer: Trainer
    ) throws {
        try trainer.run(.examples(examples, padId: padId), stage2Loss(model, features: features))
    }
}

/// Stage 1's batch: each caption's image row and its ids as the Q-Former reads them.
public struct Stage1Batch {
    public let images: [Int]
    public let ids: Tensor
    public let decoderIds: Tensor
    public let attentionMask: Tensor
}
