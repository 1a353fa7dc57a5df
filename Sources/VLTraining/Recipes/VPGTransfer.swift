import Foundation
import VLModels
import VLNN
import VLTensor
import VLTokenizers

/// VPGTrans (seed 003): move a visual prompt generator trained on one language model to another.
/// (1) a word-embedding converter from the source LLM's embedding space to the target's, trained
/// with a cosine loss over the shared vocabulary, is merged into the projector; (2) the projector
/// warms up alone at 5× the learning rate; (3) the whole VPG fine-tunes with the target LLM frozen.
/// In a LLaVA-style MLP the VPG is the vision tower (frozen, as in LLaVA's stages) with `linear_1`,
/// and the projector into the LLM is `linear_2`.
public enum VPGTransfer {
    /// A linear map source-embedding → target-embedding minimising 1 − cos over the vocabulary.
    public static func trainEmbeddingConverter(
        source: Tensor, target: Tensor, steps: Int = 300, learningRate: Float = 1e-2
    ) throws -> Linear {
        let converter = Linear(source.shape[1], target.shape[1])
        let (src, tgt) = (source.detach(), target.detach())
        let trainer = Trainer(
            model: converter,
            settings: TrainingSettings(
                steps: steps, batchSize: src.shape[0], learningRate: learningRate,
                warmupSteps: 0))
        try trainer.run { _ in ((1 - cosineSimilarity(converter(src), tgt).mean()), src.shape[0]) }
        return converter
    }

    /// What the converter minimises: the mean of 1 − cos(converter(source row), target row).
    public static func cosineLoss(_ converter: Linear, source: Tensor, target: Tensor) -> Float {
        noGrad { 1 - cosineSimilarity(converter(source), target).mean().item() }
    }

    /// The tokens both tokenizers have, by their text: rows of the source's and of the target's
    /// embedding table, in the target's order. `excluding` (e.g. `<image>`, whose row no text
    /// trained) is left out; with `within`, only those target ids are kept.
    public static func sharedVocabulary(
        source: Tokenizer, target: Tokenizer, excluding: Set<String> = [],
        within: Set<Int>? = nil
    ) -> (source: [Int], target: [Int]) {
        var tokens = target.bpe.vocab
        for t in target.addedTokens { tokens[t.content] = t.id }
        let pairs = tokens.filter { !excluding.contains($0.key) && within?.contains($0.value) != false }.compactMap {
            text, id in source.tokenId(text).map { ($0, id) }
        }
        .sorted { $0.1 < $1.1 }
        return (pairs.map(\.0), pairs.map(\.1))
    }

    /// The source MLP projector with the converter folded into its last layer:
    /// linear_2' = C ∘ linear_2 (W' = C·W₂, b' = C·b₂ + c), so it speaks the target's embedding space.
    public static func transferred(_ projector: MLPProjector, converter: Linear) -> MLPProjector {
        let out = MLPProjector(
            inputSize: projector.linear_1.inFeatures, outputSize: converter.outFeatures,
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

    /// `projector`'s weights with its hidden width raised to `hiddenSize`, as LLaVA's layout needs
    /// (there the MLP's hidden width is the language model's): `linear_1` gets new rows (PyTorch's
    /// initialisation) and `linear_2` zero columns for them, so the output is unchanged and the new
    /// units can still learn. The names are `linear_1.*` and `linear_2.*`.
    public static func widenedState(_ projector: MLPProjector, hiddenSize: Int) throws -> [String: Tensor] {
        let (input, hidden, output) = (
            projector.linear_1.inFeatures, projector.linear_1.outFeatures, projector.linear_2.outFeatures
        )
        guard hiddenSize >= hidden else {
            throw RecipeError(
                "the projector's hidden width \(hidden) (the source LLM's) does not fit a target LLM of width \(hiddenSize): "
                    + "LLaVA's MLP is as wide as its language model, so the target must be at least as wide as the source"
            )
        }
        let state = noGrad { projector.stateDict() }
        guard hiddenSize > hidden else { return state }
        let fresh = Linear(input, hiddenSize - hidden)
        return noGrad {
            [
                "linear_1.weight": cat([state["linear_1.weight"]!, fresh.weight.value], dim: 0),
                "linear_1.bias": cat([state["linear_1.bias"]!, fresh.bias!.value], dim: 0),
                "linear_2.weight": cat(
                    [state["linear_2.weight"]!, Tensor.zeros([output, hiddenSize - hidden])], dim: 1),
                "linear_2.bias": state["linear_2.bias"]!,
            ]
        }
    }

    /// The first step from which the loss, averaged over `window` steps, stays at or below `target`.
    public static func stepsToReach(_ target: Float, losses: [Float], window: Int = 20) -> Int? {
        guard losses.count >= window else { return nil }
        for end in window...losses.count where losses[(end - window)..<end].reduce(0, +) / Float(window) <= target {
            return end
        }
        return nil
    }
}

extension VPGTransfer {
    /// A phase of training an MLP projector in front of a frozen language model.
    public enum Phase: String, CaseIterable, Sendable {
        /// VPGTrans step 2: `linear_2` alone (the projector), at a raised learning rate.
        case warmup = "vpgtrans warm-up"
        /// VPGTrans step 3: the whole MLP (VPG + projector).
        case finetune = "vpgtrans fine-tune"
        /// The baseline: a new MLP trained on the target LLM for as many steps.
        case scratch = "vpg from scratch"
        /// The demo's source VPG, trained on the source LLM.
        case source = "vpg on source llm"

        /// The parameters of a `PrefixVLM` that train.
        var trainable: [String] { self == .warmup ? ["connector.linear_2"] : ["connector"] }
        /// Where its checkpoints go under `<output>/checkpoints`.
        public var checkpointFolder: String {
            switch self {
            case .warmup: return "warmup"
            case .finetune: return "finetune"
            case .scratch: return "scratch"
            case .source: return "source"
            }
        }
    }

    /// A frozen language model, the examples (image tokens expanded) and the frozen vision tower's
    /// features they index: what every phase trains a projector on.
    public struct Setting {
        public var languageModel: LlamaForCausalLM
        public var imageTokenId: Int
        /// Vision features of the training images, [N, tokens, vision width].
        public var features: Tensor
        public var examples: [TokenizedExample]
        public var padId: Int
        /// The trainer of a phase (progress, checkpoints, resuming); a plain one by default.
        public var makeTrainer: (Phase, Module, TrainingSettings) throws -> Trainer = {
            Trainer(model: $1, settings: $2)
        }
        /// Held-out examples (indexing `features`) whose loss is measured every `every` steps.
        public var validation: (examples: [TokenizedExample], features: Tensor, every: Int)?

        public init(
            languageModel: LlamaForCausalLM, imageTokenId: Int, features: Tensor, examples: [TokenizedExample],
            padId: Int
        ) {
            (self.languageModel, self.imageTokenId, self.features, self.examples, self.padId) = (
                languageModel, imageTokenId, features, examples, padId
            )
        }

        /// Trains the phase's part of `projector` in place, everything else frozen; returns the
        /// prefix model (for answering) and the trainer (its loss history).
        @discardableResult
        public func train(
            _ projector: MLPProjector, _ phase: Phase, _ settings: TrainingSettings
        ) throws -> (ConnectorVariant, Trainer) {
            let variant = ConnectorVariant.prefix(
                .mlp, connector: projector, featureTokens: features.shape[1], languageModel: languageModel,
                imageTokenId: imageTokenId)
            variant.model.freeze()
            variant.model.unfreeze(phase.trainable)
            let trainer = try makeTrainer(phase, variant.model, settings)
            if let (examples, features, every) = validation, every > 0 {
                trainer.validation = (every, { try variant.loss(examples: examples, features: features, padId: padId) })
            }
            try variant.train(examples: examples, features: features, padId: padId, trainer: trainer)
            return (variant, trainer)
        }

        /// VPGTrans steps 2 and 3 on `projector` (the converter already folded in): the warm-up
        /// with `finetune`'s settings for `warmupSteps` steps at `lrScale` × its rate, then the fine-tuning.
        public func transfer(
            _ projector: MLPProjector, warmupSteps: Int, lrScale: Float = 5,
            finetune: TrainingSettings
        ) throws -> (variant: ConnectorVariant, warmup: Trainer, finetune: Trainer) {
            var warmup = finetune
            warmup.steps = warmupSteps
            warmup.learningRate *= lrScale
            warmup.warmupSteps = min(finetune.warmupSteps, warmupSteps / 2)
            let (_, warm) = try train(projector, .warmup, warmup)
            let (variant, fine) = try train(projector, .finetune, finetune)
            return (variant, warm, fine)
        }
    }

    /// The transfer's loss curve (warm-up then fine-tuning) against training from scratch for as
    /// many steps: the loss the scratch run ends at and when the transfer first reaches it, and the
    /// other way round.
    public struct Comparison: Equatable, Sendable {
        /// A loss measured after `step` steps.
        public struct Point: Equatable, Sendable {
            public var step: Int
            public var loss: Float
            public init(step: Int, loss: Float) { (self.step, self.loss) = (step, loss) }
        }

        /// What the losses are ("validation loss", "training loss, mean of 20 steps").
        public var measure: String
        public var steps: Int
        public var scratchLoss: Float
        public var transferLoss: Float
        /// Steps (warm-up included) the transfer needed to reach `scratchLoss`; nil if it never did.
        public var transferStepsToScratchLoss: Int?
        /// Steps the scratch run needed to reach `transferLoss`; nil if it never did.
        public var scratchStepsToTransferLoss: Int?

        /// Curves measured at some steps; each run's last point is its final loss.
        public init(transfer: [Point], scratch: [Point], steps: Int, measure: String) {
            (self.steps, self.measure) = (steps, measure)
            (scratchLoss, transferLoss) = (scratch.last?.loss ?? .nan, transfer.last?.loss ?? .nan)
            transferStepsToScratchLoss = transfer.first { $0.loss <= scratchLoss }?.step
            scratchStepsToTransferLoss = scratch.first { $0.loss <= transferLoss }?.step
        }

        /// Training losses of every step, each point the mean of the `window` steps up to it (the
        /// first step from which that mean is at or below the other's final one, as `stepsToReach`).
        public init(transfer: [Float], scratch: [Float], window: Int = 20) {
            let w = max(1, min(window, transfer.count, scratch.count))
            func smoothed(_ l: [Float]) -> [Point] {
                l.count < w ? [] : (w...l.count).map { Point(step: $0, loss: l[($0 - w)..<$0].reduce(0, +) / Float(w)) }
            }
            self.init(
                transfer: smoothed(transfer), scratch: smoothed(scratch), steps: scratch.count,
                measure: "training loss, mean of \(w) steps")
        }

        /// Steps the transfer saved against training from scratch to the same loss.
        public var stepsSaved: Int? { transferStepsToScratchLoss.map { steps - $0 } }

        public var summary: String {
            let reached =
                transferStepsToScratchLoss.map { "reached it after \($0) of \(steps) steps (\(steps - $0) saved)" }
                ?? "did not reach it in \(steps) steps"
            let back =
                scratchStepsToTransferLoss.map { "from scratch reached the transfer's final %.3f after \($0) steps" }
                ?? "from scratch never reached the transfer's final %.3f"
            return String(
                format: "%@: from scratch ends at %.3f; the transfer %@; " + back, measure, scratchLoss, reached,
                transferLoss)
        }

        public var jsonObject: [String: Any] {
            func orNull(_ v: Int?) -> Any { v.map { $0 as Any } ?? NSNull() }
            return [
                "measure": measure, "steps": steps, "scratch_loss": Double(scratchLoss),
                "transfer_loss": Double(transferLoss),
                "transfer_steps_to_scratch_loss": orNull(transferStepsToScratchLoss), "steps_saved": orNull(stepsSaved),
                "scratch_steps_to_transfer_loss": orNull(scratchStepsToTransferLoss),
            ]
        }
    }
}

extension Dictionary {
    public func mapKeys<K: Hashable>(_ f: (Key) -> K) -> [K: Value] {
        Dictionary<K, Value>(uniqueKeysWithValues: map { (f($0.key), $0.value) })
    }
}
