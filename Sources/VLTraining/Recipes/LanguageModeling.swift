import VLModels
import VLNN
import VLTensor
import VLTokenizers

/// One training sequence for a decoder: token ids and, per position, whether predicting that
/// token counts in the loss (prompts and images don't; answers and captions do).
public struct TokenizedExample: Equatable, Sendable {
    public var ids: [Int]
    public var trained: [Bool]
    /// Index into the image table for multimodal examples.
    public var image: Int?

    public init(ids: [Int], trained: [Bool], image: Int? = nil) {
        precondition(ids.count == trained.count)
        (self.ids, self.trained, self.image) = (ids, trained, image)
    }
}

extension TokenizedExample {
    /// A prompt whose tokens are not learned followed by a response whose tokens are (ends with EOS).
    public static func promptResponse(
        _ tokenizer: Tokenizer, prompt: String, response: String, image: Int? = nil
    ) -> TokenizedExample {
        let p = tokenizer.encode(prompt, addSpecialTokens: true)
        var r = tokenizer.encode(response, addSpecialTokens: false)
        if let eos = tokenizer.eosTokenId { r.append(eos) }
        return TokenizedExample(
            ids: p + r, trained: [Bool](repeating: false, count: p.count) + [Bool](repeating: true, count: r.count),
            image: image)
    }
}

/// A right-padded batch: inputs are positions 0..<L-1, targets the next token at each, -100
/// where the loss ignores it (prompt, image, padding).
public struct LanguageModelBatch {
    public let inputs: Tensor
    public let targets: Tensor
    public let inputIds: [[Int]]

    public init(_ examples: [TokenizedExample], padId: Int) {
        let length = examples.map(\.ids.count).max()! - 1
        var inputs: [Int] = [], targets: [Int] = [], rows: [[Int]] = []
        for e in examples {
            var row = Array(e.ids.dropLast()), target = (1..<e.ids.count).map { e.trained[$0] ? e.ids[$0] : -100 }
            row += [Int](repeating: padId, count: length - row.count)
            target += [Int](repeating: -100, count: length - target.count)
            inputs += row
            targets += target
            rows.append(row)
        }
        self.inputs = Tensor(ints: inputs, shape: [examples.count, length])
        self.targets = Tensor(ints: targets, shape: [examples.count, length])
        inputIds = rows
    }
}

/// Mean cross-entropy of next-token predictions over the positions that count.
public func languageModelLoss(logits: Tensor, targets: Tensor) -> Tensor {
    let v = logits.shape[logits.rank - 1]
    return crossEntropy(logits.reshape([-1, v]), targets.reshape([-1]), ignoreIndex: -100)
}

/// Causal-LM training of a decoder on text (the "pretrained LLM" the alignment stages start from).
public enum LanguageModelPretraining {
    /// A LLaMA-architecture model sized for the world (grouped-query attention, untied head).
    public static func worldConfig(vocabSize: Int, hidden: Int = 128, layers: Int = 4) -> LlamaConfig {
        var c = LlamaConfig()
        c.vocabSize = vocabSize
        c.hiddenSize = hidden
        c.intermediateSize = hidden * 8 / 3
        c.numHiddenLayers = layers
        c.numAttentionHeads = max(1, hidden / 32)
        c.numKeyValueHeads = max(1, hidden / 64)
        c.maxPositionEmbeddings = 128
        c.rmsNormEps = 1e-6
        c.bosTokenId = 1
        c.eosTokenIds = [2]
        c.padTokenId = 3
        return c
    }

    /// Trains on batches of `examples` (text only).
    public static func train(
        _ model: LlamaForCausalLM, examples: [TokenizedExample], padId: Int, trainer: Trainer
    ) throws {
        try trainer.run(.examples(examples, padId: padId)) { b, _ in
            let length = b.batch.inputs.shape[1]
            let hidden = model.hiddenStates(
                model.embed(b.batch.inputs), positions: Array(0..<length), cache: nil, keyPadding: nil)
            return (languageModelLoss(logits: model.logits(hidden), targets: b.batch.targets), b.examples)
        }
    }

    /// The text a language model learns from `data`: each caption, and each other turn's question
    /// followed by its answer (a caption request contributes its caption alone) — on the world,
    /// every scene's caption, then its questions with their answers.
    public static func texts(_ data: TrainingData) -> [String] {
        data.turns.map { $0.question == WorldEvaluation.captionRequest ? $0.answer : "\($0.question) \($0.answer)" }
    }
}

/// A padded batch of examples and the image row of each that has one.
public struct ExampleBatch {
    public let batch: LanguageModelBatch
    public let images: [Int]
    /// How many examples it holds.
    public let examples: Int
}

extension Batches where Batch == ExampleBatch {
    /// `examples` in right-padded batches (`padId`), each with its examples' image rows.
    public static func examples(_ examples: [TokenizedExample], padId: Int) -> Batches {
        Batches(count: examples.count) { rows in
            let chosen = rows.map { examples[$0] }
            return ExampleBatch(
                batch: LanguageModelBatch(chosen, padId: padId), images: chosen.compactMap(\.image),
                examples: chosen.count)
        }
    }
}

/// `language-model`: a small LLaMA from scratch on the text of the world (or of a dataset file);
/// `config` sets its width and depth.
public enum LanguageModelRecipe: TrainingRecipe {
    public static let name: Recipe.Name = "language-model"
    public static let defaults = TrainingSettings(steps: 150, batchSize: 32, learningRate: 2e-3, warmupSteps: 15)
    public static let data: [DataKind] = [.captions, .llavaJSON]
    public static let sections: Set<String> = ["config"]

    public static func run(_ stage: RecipeStage) throws {
        let c = stage.recipe.config
        _ = try stage.runner.trainLanguageModel(
            on: stage.data(), settings: stage.settings, output: stage.output,
            hidden: c?.hiddenSize ?? 128, layers: c?.numHiddenLayers ?? 4)
    }
}
