import Foundation
import VLModels
import VLNN
import VLTensor
import VLTokenizers

/// The seeds' comparison, measured: every family of visual prompt generator between the same
/// frozen vision tower and the same frozen language model, trained on the same data for the same
/// number of steps.
public enum ConnectorFamily: String, CaseIterable, Codable, Sendable {
    case linear, mlp, qformer, abstractor
    /// Perceiver Resampler + gated cross-attention inside the (frozen) decoder.
    case flamingo

    public var paper: String {
        switch self {
        case .linear: return "LLaVA-1.0 / MiniGPT-4 linear projection"
        case .mlp: return "LLaVA-1.5 two-layer MLP"
        case .qformer: return "BLIP-2 Q-Former (learned queries)"
        case .abstractor: return "mPLUG-Owl visual abstractor"
        case .flamingo: return "Flamingo resampler + gated cross-attention"
        }
    }
}

/// A frozen decoder fed by a trainable connector: image tokens replace the prompt's `<image>`
/// tokens (linear, MLP, Q-Former, abstractor).
public final class PrefixVLM: Module {
    public let connector: Connector
    public let language_model: LlamaForCausalLM

    public init(connector: Connector, languageModel: LlamaForCausalLM) {
        self.connector = connector
        language_model = languageModel
    }
}

/// One connector family set up for training and greedy answering.
public struct ConnectorVariant {
    public let family: ConnectorFamily
    /// The module whose trainable parameters train (the language model inside is frozen).
    public let model: Module
    /// How many tokens `<image>` becomes in a prompt.
    public let imageTokens: Int
    let imageTokenId: Int
    /// Logits [B, L, vocab] of a batch whose rows have their images' features [B, N, Cv].
    let logits: (LanguageModelBatch, Tensor) throws -> Tensor
    /// Greedy continuation of one prompt (image tokens expanded) for one image's features [1, N, Cv].
    let continuation: ([Int], Tensor, Int, Set<Int>) throws -> [Int]

    /// `family` between vision features of width `visionWidth` (`featureTokens` per image) and `lm`.
    public static func make(
        _ family: ConnectorFamily, visionWidth: Int, featureTokens: Int, languageModel lm: LlamaForCausalLM,
        imageTokenId: Int, queries: Int = 8
    ) throws -> ConnectorVariant {
        let width = lm.config.hiddenSize
        let connector: Connector
        switch family {
        case .linear: connector = LinearProjector(inputSize: visionWidth, outputSize: width)
        case .mlp: connector = MLPProjector(inputSize: visionWidth, outputSize: width)
        case .qformer:
            var q = QFormerConfig()
            (q.hiddenSize, q.numHiddenLayers, q.numAttentionHeads, q.intermediateSize) = (
                width, 2, max(1, width / 32), width * 4
            )
            (q.encoderHiddenSize, q.crossAttentionFrequency, q.layerNormEps) = (visionWidth, 1, 1e-12)
            connector = try QFormerConnector(qformer: q, queries: queries, outputWidth: width)
        case .abstractor:
            connector = VisualAbstractor(
                imageWidth: visionWidth, dim: width, outputWidth: width, queries: queries, layers: 2,
                heads: max(1, width / 32))
        case .flamingo:
            let flamingo = FlamingoLlama(
                languageModel: lm, visionWidth: visionWidth, crossAttentionEvery: 2, latents: queries,
                resamplerDepth: 2)
            flamingo.freeze(["language_model"])
            return flamingoVariant(flamingo, imageTokenId: imageTokenId)
        }
        return prefix(
            family, connector: connector, featureTokens: featureTokens, languageModel: lm, imageTokenId: imageTokenId)
    }

    /// `connector` (trainable) in front of `lm` (frozen).
    public static func prefix(
        _ family: ConnectorFamily, connector: Connector, featureTokens: Int, languageModel lm: LlamaForCausalLM,
        imageTokenId: Int
    ) -> ConnectorVariant {
        let model = PrefixVLM(connector: connector, languageModel: lm)
        model.freeze(["language_model"])
        return ConnectorVariant(
            family: family, model: model, imageTokens: connector.outputTokens(featureTokens),
            imageTokenId: imageTokenId,
            logits: { batch, features in
                let embeddings = try LlavaAlignment.splice(
                    connector(features), into: lm.embed(batch.inputs), ids: batch.inputIds,
                    imageTokenId: imageTokenId)
                let length = batch.inputs.shape[1]
                return lm.logits(lm.hiddenStates(embeddings, positions: Array(0..<length), cache: nil, keyPadding: nil))
            },
            continuation: { ids, features, maxTokens, stops in
                let embeddings = try noGrad {
                    try LlavaAlignment.splice(
                        connector(features), into: lm.embed(Tensor(ints: ids, shape: [1, ids.count])), ids: [ids],
                        imageTokenId: imageTokenId)
                }
                return Generator(model: lm).generate(
                    promptEmbeddings: embeddings, promptIds: ids, sampling: SamplingParameters(),
                    stop: StopConditions(maxNewTokens: maxTokens, stopTokenIds: stops)
                ).0
            })
    }

    /// Flamingo keeps one `<image>` token in the text: it marks where the image's latents become
    /// visible to the gated cross-attention layers.
    static func flamingoVariant(_ flamingo: FlamingoLlama, imageTokenId: Int) -> ConnectorVariant {
        func mediaLocations(_ ids: [[Int]]) -> [[Bool]] { ids.map { $0.map { $0 == imageTokenId } } }
        return ConnectorVariant(
            family: .flamingo, model: flamingo, imageTokens: 1, imageTokenId: imageTokenId,
            logits: { batch, features in
                flamingo.logits(
                    ids: batch.inputs, features: features.unsqueeze(1), mediaLocations: mediaLocations(batch.inputIds))
            },
            continuation: { ids, features, maxTokens, stops in
                let prompt = FlamingoPrompt(
                    flamingo, features: features.unsqueeze(1), mediaLocations: ids.map { $0 == imageTokenId })
                let embeddings = noGrad { flamingo.language_model.embed(Tensor(ints: ids, shape: [1, ids.count])) }
                return Generator(model: prompt).generate(
                    promptEmbeddings: embeddings, promptIds: ids, sampling: SamplingParameters(),
                    stop: StopConditions(maxNewTokens: maxTokens, stopTokenIds: stops)
                ).0
            })
    }

    /// A question about image `image` with this variant's image tokens.
    public func example(_ tokenizer: Tokenizer, question: String, answer: String, image: Int) -> TokenizedExample {
        LlavaAlignment.example(
            tokenizer, question: question, answer: answer, image: image, imageTokenId: imageTokenId,
            imageTokens: imageTokens)
    }

    /// Trains the connector (and, for Flamingo, the gated blocks) on batches of `examples`.
    public func train(examples: [TokenizedExample], features: Tensor, padId: Int, trainer: Trainer) throws {
        try trainer.run(.examples(examples, padId: padId)) { b, _ in
            let logits = try self.logits(b.batch, features.indexSelect(0, b.images))
            return (languageModelLoss(logits: logits, targets: b.batch.targets), b.examples)
        }
    }

    /// The mean loss over the learnt tokens of `examples` (no gradients), in chunks of `chunk`.
    public func loss(examples: [TokenizedExample], features: Tensor, padId: Int, chunk: Int = 64) throws -> Float {
        var total: Float = 0, counted = 0
        for start in stride(from: 0, to: examples.count, by: chunk) {
            let part = Array(examples[start..<min(start + chunk, examples.count)])
            let batch = LanguageModelBatch(part, padId: padId)
            let n = batch.targets.toInts().filter { $0 != -100 }.count
            guard n > 0 else { continue }
            let logits = try noGrad { try self.logits(batch, features.indexSelect(0, part.map { $0.image! })) }
            total += noGrad { languageModelLoss(logits: logits, targets: batch.targets).item() } * Float(n)
            counted += n
        }
        return counted > 0 ? total / Float(counted) : .nan
    }

    /// The greedy answer to `question` about an image with features [1, N, Cv].
    public func answer(_ tokenizer: Tokenizer, question: String, features: Tensor, maxTokens: Int = 4) throws -> String
    {
        let ids = Array(example(tokenizer, question: question, answer: "", image: 0).ids.dropLast())
        let stops = Set([tokenizer.eosTokenId].compactMap { $0 })
        return tokenizer.decode(try continuation(ids, features, maxTokens, stops), skipSpecialTokens: true)
            .trimmingCharacters(in: .whitespaces)
    }
}
