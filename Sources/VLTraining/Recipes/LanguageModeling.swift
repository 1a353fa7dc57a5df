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
    public static func promptResponse(_ tokenizer: Tokenizer, prompt: String, response: String, image: Int? = nil) -> TokenizedExample {
        let p = tokenizer.encode(prompt, addSpecialTokens: true)
        var r = tokenizer.encode(response, addSpecialTokens: false)
        if let eos = tokenizer.eosTokenId { r.append(eos) }
        return TokenizedExample(ids: p + r, trained: [Bool](repeating: false, count: p.count) + [Bool](repeating: true, count: r.count),
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

    /// Trains on random batches of `examples` (text only).
    public static func train(_ model: LlamaForCausalLM, examples: [TokenizedExample], padId: Int, trainer: Trainer) throws {
        try trainer.run { rng in
            let batch = LanguageModelBatch((0..<trainer.settings.batchSize).map { _ in examples[rng.nextInt(examples.count)] }, padId: padId)
            let length = batch.inputs.shape[1]
            let hidden = model.hiddenStates(model.embed(batch.inputs), positions: Array(0..<length), cache: nil, keyPadding: nil)
            return (languageModelLoss(logits: model.logits(hidden), targets: batch.targets), trainer.settings.batchSize)
        }
    }
}
