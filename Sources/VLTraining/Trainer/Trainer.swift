import Foundation
import VLNN
import VLTensor

/// How long and how fast a stage trains.
public struct TrainingSettings: Codable, Equatable, Sendable {
    public var steps = 100
    public var batchSize = 32
    public var learningRate: Float = 1e-3
    public var minLearningRate: Float = 0
    public var warmupSteps = 10
    public var weightDecay: Float = 0.01
    /// Gradients are clipped to this global norm (none when nil).
    public var clipNorm: Float? = 1
    /// Micro-batches whose gradients add up before one optimiser step.
    public var accumulation = 1
    public var seed: UInt64 = 0
    /// Steps between checkpoints when the trainer has a checkpoint directory.
    public var checkpointEvery = 0

    public init(steps: Int = 100, batchSize: Int = 32, learningRate: Float = 1e-3, warmupSteps: Int = 10) {
        (self.steps, self.batchSize, self.learningRate, self.warmupSteps) = (
            steps, batchSize, learningRate, warmupSteps
        )
    }
}

/// One optimiser step as it is logged.
public struct StepRecord: Codable, Equatable, Sendable {
    public var step: Int
    public var loss: Float
    public var learningRate: Float
    public var samplesPerSecond: Double
    public var gradNorm: Float?
    /// The loss on held-out data after this step, at the steps `Trainer.validation` measures.
    public var validationLoss: Float? = nil
}

/// The loop shared by every recipe: AdamW over the model's trainable parameters, warm-up then
/// cosine decay, gradient clipping and accumulation, and checkpoints that resume bit for bit.
public final class Trainer {
    public let model: Module
    public let settings: TrainingSettings
    public let optimizer: AdamW
    public internal(set) var step = 0
    /// Drives data order and any sampling in the recipe; saved with checkpoints.
    public var rng: RandomGenerator
    public internal(set) var history: [StepRecord] = []
    /// Called after every optimiser step (progress bars, logs); an error it throws ends the run.
    public var onStep: ((StepRecord) throws -> Void)?
    /// Called after every optimiser step, before logging (e.g. CLIP's temperature clamp, EMA updates).
    public var afterUpdate: (() -> Void)?
    public var checkpointDirectory: URL?
    /// A held-out loss measured after every `every`-th step and the last one (in evaluation mode,
    /// without gradients), kept in the step's record and so in checkpoints.
    public var validation: (every: Int, loss: () throws -> Float)?
    let parameters: [(String, Parameter)]

    public init(model: Module, settings: TrainingSettings) {
        self.model = model
        self.settings = settings
        parameters = model.namedParameters().filter { $0.1.isTrainable }
        optimizer = AdamW(parameters.map(\.1), lr: settings.learningRate, weightDecay: settings.weightDecay)
        rng = RandomGenerator(seed: settings.seed)
    }

    public var schedule: WarmupCosineSchedule {
        WarmupCosineSchedule(
            baseLR: settings.learningRate, warmupSteps: settings.warmupSteps,
            totalSteps: settings.steps, minLR: settings.minLearningRate)
    }

    /// Runs the remaining steps. `microBatch` returns the loss of one micro-batch (drawing its data
    /// with the trainer's generator) and how many samples it held.
    public func run(_ microBatch: (inout RandomGenerator) throws -> (loss: Tensor, samples: Int)) throws {
        model.train()
        defer { model.eval() }
        while step < settings.steps {
            let started = Date()
            optimizer.learningRate = schedule.learningRate(at: step)
            var lossSum: Float = 0, samples = 0
            for _ in 0..<settings.accumulation {
                let (loss, n) = try microBatch(&rng)
                (loss / Float(settings.accumulation)).backward()
                lossSum += loss.item()
                samples += n
            }
            let norm = settings.clipNorm.map { clipGradNorm(optimizer.parameters, maxNorm: $0) }
            optimizer.step()
            optimizer.zeroGrad(optimizer.parameters)
            afterUpdate?()
            step += 1
            var record = StepRecord(
                step: step, loss: lossSum / Float(settings.accumulation), learningRate: optimizer.learningRate,
                samplesPerSecond: Double(samples) / max(Date().timeIntervalSince(started), 1e-9), gradNorm: norm)
            if let (every, loss) = validation, every > 0, step % every == 0 || step == settings.steps {
                model.eval()
                record.validationLoss = try noGrad { try loss() }
                model.train()
            }
            history.append(record)
            try onStep?(record)
            if let dir = checkpointDirectory, settings.checkpointEvery > 0,
                step % settings.checkpointEvery == 0 || step == settings.steps
            {
                try saveCheckpoint(in: dir)
            }
        }
    }
}
