import Foundation
import VLImaging
import VLIO
import VLModels
import VLNN
import VLTensor
import VLTokenizers

/// MiniGPT-4 (Zhu et al. 2023): BLIP-2's pre-trained vision tower and Q-Former, frozen, and a
/// frozen LLaMA-family model joined by ONE linear layer, `llama_proj`, the only part that trains,
/// with the LM loss on answers to prompts in the paper's format
/// `###Human: <Img><ImageHere></Img> … ###Assistant:`.
public enum MiniGPT4Alignment {
    /// The prompt for `question`, with `<ImageHere>` where the query outputs go.
    public static func prompt(_ question: String) -> String {
        MiniGPT4.promptTemplate.replacingOccurrences(of: "{}", with: question)
    }

    /// Loads a directory the minigpt4 recipe wrote (by its `config.json`): the model, the LLM's
    /// tokenizer and the BLIP-2 part's image processor.
    public static func load(
        _ directory: URL
    ) throws -> (model: MiniGPT4, tokenizer: Tokenizer, processor: ImageProcessor) {
        let model = try MiniGPT4.load(directory: directory)
        let parts = try model.config.parts(in: directory)
        return (model, try Tokenizer(directory: parts.languageModel), try ImageProcessor(directory: parts.blip2))
    }

    /// One training sequence: the prompt's text before `<ImageHere>` (with BOS), `imageTokenId` once
    /// per query output (replaced by them in training, as `inputEmbeddings` does at inference),
    /// the text after it, then the answer and EOS — the only positions learned.
    public static func example(
        _ tokenizer: Tokenizer, queries: Int, imageTokenId: Int, question: String, answer: String,
        image: Int
    ) -> TokenizedExample {
        let parts = prompt(question).components(separatedBy: MiniGPT4.imagePlaceholder)
        let prefix =
            tokenizer.encode(parts[0]) + [Int](repeating: imageTokenId, count: queries)
            + tokenizer.encode(parts[1], addSpecialTokens: false)
        var response = tokenizer.encode(answer, addSpecialTokens: false)
        if let eos = tokenizer.eosTokenId { response.append(eos) }
        return TokenizedExample(
            ids: prefix + response,
            trained: [Bool](repeating: false, count: prefix.count)
                + [Bool](repeating: true, count: response.count), image: image)
    }

    /// The frozen Q-Former's query outputs for every image, computed once: [N, queries, Q-Former hidden].
    public static func queryOutputs(_ model: MiniGPT4, pixels: Tensor, chunk: Int = 256) -> Tensor {
        noGrad {
            let n = pixels.shape[0], q = model.query_tokens.value
            return cat(
                stride(from: 0, to: n, by: chunk).map { start in
                    let part = pixels.narrow(0, start: start, length: min(chunk, n - start))
                    return model.qformer(
                        queries: q.expand([part.shape[0], q.shape[1], q.shape[2]]),
                        image: model.vision_model.features(part)
                    )
                    .contiguous()
                }, dim: 0)
        }
    }

    /// The same for the rows of `images`, decoded (or rendered) a chunk at a time.
    public static func queryOutputs(
        _ model: MiniGPT4, images: TrainingImages, processor: ImageProcessor
    ) throws -> Tensor {
        try images.encoded(processor: processor) { pixels in
            let q = model.query_tokens.value
            return model.qformer(
                queries: q.expand([pixels.shape[0], q.shape[1], q.shape[2]]), image: model.vision_model.features(pixels)
            )
        }
    }

    /// The LM loss of a batch whose images index `queryOutputs`, through `llama_proj`.
    public static func loss(
        _ model: MiniGPT4, queryOutputs: Tensor, imageTokenId: Int
    )
        -> (ExampleBatch, inout RandomGenerator) throws -> (loss: Tensor, samples: Int)
    {
        { b, _ in
            try LlavaAlignment.loss(model.language_model, imageTokenId: imageTokenId, b) {
                model.llama_proj(queryOutputs.indexSelect(0, $0))
            }
        }
    }

    /// Trains `llama_proj` on batches of `examples` whose images index `queryOutputs`.
    public static func train(
        _ model: MiniGPT4, examples: [TokenizedExample], queryOutputs: Tensor, imageTokenId: Int,
        padId: Int, trainer: Trainer
    ) throws {
        try trainer.run(
            .examples(examples, padId: padId), loss(model, queryOutputs: queryOutputs, imageTokenId: imageTokenId))
    }

    /// The greedy answer to `question` about one image (pixels [1, 3, H, W]).
    public static func answer(
        _ model: MiniGPT4, tokenizer: Tokenizer, question: String, pixels: Tensor, maxTokens: Int = 8
    ) throws -> String {
        let embeddings = try noGrad {
            try model.inputEmbeddings(prompt: prompt(question), tokenizer: tokenizer, pixels: pixels)
        }
        let stops = Set([tokenizer.eosTokenId].compactMap { $0 })
        let (tokens, _) = Generator(model: model.language_model).generate(
            promptEmbeddings: embeddings, sampling: SamplingParameters(),
            stop: StopConditions(maxNewTokens: maxTokens, stopTokenIds: stops))
        return tokenizer.decode(tokens, skipSpecialTokens: true).trimmingCharacters(in: .whitespaces)
    }
}
