import ArgumentParser
import Foundation
import VLIO
import VLModels
import VLTraining

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Run a training recipe (JSON or YAML) on the built-in world or on dataset files.",
        discussion: """
            Recipes: \(RecipeRegistry.names.joined(separator: ", ")). Ready ones are in recipes/; \
            paths in a recipe are relative to its file. Without "data" a recipe trains on the built-in world; \
            with e.g. --set data.llava_json=DIR/llava.json (or data.captions, data.interleaved; data.images, \
            data.validation, data.strict) on that file. The trained model is a Hugging Face directory at the \
            recipe's "output"; checkpoints go to <output>/checkpoints when training.checkpoint_every > 0.
            """)

    @Argument(help: "The recipe file.") var recipe: String
    @Option(name: .customLong("set"), help: "Override a recipe value, e.g. --set training.steps=100 (repeatable).")
    var overrides: [String] = []
    @Flag(help: "Continue from the newest checkpoint under <output>/checkpoints.") var resume = false
    @Option(help: "Append one JSON object per step to this file (step, loss, lr, samples/s).") var metrics: String?

    func run() throws {
        let recipe = try Recipe(contentsOf: URL(fileURLWithPath: self.recipe), overrides: overrides)
        var runner = RecipeRunner()
        runner.resume = resume
        runner.log = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        let log = try metrics.map { try MetricsLog(url: URL(fileURLWithPath: $0), append: resume) }
        var bar: ProgressBar?, barStage = ""
        runner.onStep = { stage, settings, record in
            // One bar a stage: vpgtrans runs several (warm-up, fine-tuning, from scratch).
            if bar == nil || stage != barStage {
                bar = ProgressBar(
                    total: settings.steps, label: stage, samplesPerStep: settings.batchSize * settings.accumulation)
                barStage = stage
            }
            let validation = record.validationLoss.map { [("val", String(format: "%.3f", $0))] } ?? []
            bar?.update(
                step: record.step,
                fields: [("loss", String(format: "%.3f", record.loss))] + validation
                    + [("lr", String(format: "%.1e", record.learningRate))])
            if record.step == settings.steps { bar?.finish() }
            var line: [(key: String, value: MetricValue)] = [
                ("stage", .string(stage)), ("step", .int(record.step)), ("loss", .double(Double(record.loss))),
            ]
            if let v = record.validationLoss { line.append(("validation_loss", .double(Double(v)))) }
            line += [
                ("lr", .double(Double(record.learningRate))), ("samples_per_second", .double(record.samplesPerSecond)),
            ]
            try log?.write(line)
        }
        try runner.run(recipe)
        print("trained \(recipe.recipe): \(recipe.output)")
    }
}
