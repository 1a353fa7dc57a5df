import ArgumentParser
import Foundation
import VLTraining

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo", abstract: "Train and evaluate vision-language models on the built-in world, end to end.")

    @Option(help: "Where the trained models and the report go.") var out = "vlkit-demo"
    @Option(help: "CLIP pre-training steps.") var clipSteps = 300
    @Option(help: "Random seed.") var seed: UInt64 = 0

    func run() throws {
        var demo = Demo(outputDirectory: URL(fileURLWithPath: out))
        demo.clipSteps = clipSteps
        demo.seed = seed
        var bars: [String: ProgressBar] = [:]
        demo.onStep = { stage, total, record in
            let bar = bars[stage] ?? ProgressBar(total: total, label: stage)
            bars[stage] = bar
            bar.advance(status: String(format: "loss %.3f  lr %.1e", record.loss, record.learningRate))
        }
        try demo.run()
    }
}
