import Foundation
import VLModels
import VLNN
import VLTensor

/// VPGTrans (seed 003): move a visual prompt generator trained on one language model to another.
/// (1) a word-embedding converter from the source LLM's embedding space to the target's, trained
/// with a cosine loss over the shared vocabulary, is merged into the projector; (2) the projector
/// warms up alone at 5× the learning rate; (3) the whole VPG fine-tunes with the target LLM frozen.
public enum VPGTransfer {
    /// A linear map source-embedding → target-embedding minimising 1 − cos over the vocabulary.
    public static func trainEmbeddingConverter(source: Tensor, target: Tensor, steps: Int = 300, learningRate: Float = 1e-2) throws -> Linear {
        let converter = Linear(source.shape[1], target.shape[1])
        let (src, tgt) = (source.detach(), target.detach())
        let trainer = Trainer(model: converter, settings: TrainingSettings(steps: steps, batchSize: src.shape[0], learningRate: learningRate,
                                                                          warmupSteps: 0))
        try trainer.run { _ in ((1 - cosineSimilarity(converter(src), tgt).mean()), src.shape[0]) }
        return converter
    }

    /// The source MLP projector with the converter folded into its last layer:
    /// linear_2' = C ∘ linear_2 (W' = C·W₂, b' = C·b₂ + c), so it speaks the target's embedding space.
    public static func transferred(_ projector: MLPProjector, converter: Linear) -> MLPProjector {
        let out = MLPProjector(inputSize: projector.linear_1.inFeatures, outputSize: converter.outFeatures,
                               hiddenSize: projector.linear_1.outFeatures)
        let c = converter.weight.value.detach()
        var state = noGrad { projector.linear_1.stateDict().mapKeys { "linear_1." + $0 } }
        state["linear_2.weight"] = noGrad { matmul(c, projector.linear_2.weight.value.detach()) }
        state["linear_2.bias"] = noGrad {
            matmul(c, projector.linear_2.bias!.value.detach().unsqueeze(1)).squeeze(1) + converter.bias!.value.detach()
        }
        try! out.load(stateDict: state)  // the names and shapes are built right here
        return out
    }

    /// The first step from which the loss, averaged over `window` steps, stays at or below `target`.
    public static func stepsToReach(_ target: Float, losses: [Float], window: Int = 20) -> Int? {
        guard losses.count >= window else { return nil }
        for end in window...losses.count where losses[(end - window)..<end].reduce(0, +) / Float(window) <= target { return end }
        return nil
    }
}

extension Dictionary {
    public func mapKeys<K: Hashable>(_ f: (Key) -> K) -> [K: Value] { Dictionary<K, Value>(uniqueKeysWithValues: map { (f($0.key), $0.value) }) }
}
