import Foundation
import VLImaging
import VLModels
import VLNN
import VLTensor
import VLTokenizers

/// `vlkit demo`: the whole system learning on the built-in world.
public struct Demo {
    public var outputDirectory: URL
    public var trainCount = 4000
    public var testCount = 300
    public var seed: UInt64 = 0
    public var clipSteps = 300
    public var log: (String) -> Void = { print($0) }
    public var onStep: (String, Int, StepRecord) -> Void = { _, _, _ in }

    public init(outputDirectory: URL) { self.outputDirectory = outputDirectory }

    public func run() throws {
        let world = World()
        let processor = CLIPPretraining.worldProcessor(imageSize: world.imageSize)
        var t = Date()
        let train = WorldData(world.samples(.train, count: trainCount, seed: seed), processor: processor)
        log(String(format: "world: %d training scenes rendered in %.2f s", trainCount, Date().timeIntervalSince(t)))

        let clipDir = outputDirectory.appendingPathComponent("clip")
        try FileManager.default.createDirectory(at: clipDir, withIntermediateDirectories: true)
        let vocabSize = try WorldTokenizers.writeCLIPTokenizer(to: clipDir, maxLength: 32)
        let tokenizer = try CLIPTokenizer(directory: clipDir)
        let clip = try CLIPModel(CLIPPretraining.worldConfig(vocabSize: vocabSize, imageSize: world.imageSize))
        var settings = TrainingSettings(steps: clipSteps, batchSize: 64, learningRate: 1e-3, warmupSteps: 20)
        settings.seed = seed
        let trainer = Trainer(model: clip, settings: settings)
        trainer.onStep = { onStep("clip", clipSteps, $0) }
        t = Date()
        try CLIPPretraining.train(clip, pixels: train.pixels, captions: train.captions, tokenizer: tokenizer, trainer: trainer)
        log(String(format: "clip: %d steps in %.1f s, loss %.3f", clipSteps, Date().timeIntervalSince(t), trainer.history.last?.loss ?? .nan))
    }
}
