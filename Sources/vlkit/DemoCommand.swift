import ArgumentParser
import Foundation
import VLTraining

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Train and evaluate vision-language models on the built-in world, end to end.",
        discussion: """
            Generates the world, pre-trains CLIP and a small LLaMA, aligns them LLaVA-style (stage 1: \
            projector; stage 2: projector + LLM) and prints every metric on held-out scenes beside its \
            chance level. The trained models are Hugging Face directories under --out.
            """)

    @Option(help: "Where the trained models go.") var out = "vlkit-demo"
    @Option(help: "Random seed (world, initialisation, data order).") var seed: UInt64 = 0
    @Option(help: "Training scenes.") var trainScenes = 4000
    @Option(help: "Test scenes.") var testScenes = 200
    @Option(help: "Multiply every stage's steps by this (0.1 for a quick look).") var stepScale = 1.0
    @Flag(help: "Print the metrics as one JSON object.") var json = false

    func validate() throws {
        guard trainScenes >= 10 else { throw ValidationError("--train-scenes must be at least 10") }
        guard testScenes >= 2 else { throw ValidationError("--test-scenes must be at least 2") }
        guard stepScale > 0 && stepScale <= 100 else { throw ValidationError("--step-scale must be in (0, 100]") }
    }

    func run() throws {
        var demo = Demo(outputDirectory: URL(fileURLWithPath: out))
        demo.options.seed = seed
        demo.options.trainScenes = trainScenes
        demo.options.testScenes = testScenes
        for path in [\Demo.Options.clip, \.languageModel, \.stage1, \.stage2] {
            demo.options[keyPath: path].steps = max(1, Int((Double(demo.options[keyPath: path].steps) * stepScale).rounded()))
        }
        demo.log = { message in FileHandle.standardError.write(Data((message + "\n").utf8)) }
        var bars: [String: VLTraining.ProgressBar] = [:]
        demo.onStep = { stage, settings, record in
            let total = settings.steps
            let bar = bars[stage] ?? VLTraining.ProgressBar(total: total, label: stage, samplesPerStep: settings.batchSize * settings.accumulation)
            bars[stage] = bar
            bar.update(step: record.step, fields: [("loss", String(format: "%.3f", record.loss)),
                                                   ("lr", String(format: "%.1e", record.learningRate))])
            if record.step == total { bar.finish() }
        }
        let result = try demo.run()
        if json {
            print(String(decoding: try JSONSerialization.data(withJSONObject: result.jsonObject, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(result.table)
        }
    }
}

extension DemoResult {
    var jsonObject: [String: Any] {
        var o: [String: Any] = [
            "vqa_accuracy": vqa.overall.accuracy, "vqa_chance": vqa.overall.majorityBaseline,
            "compositional_vqa_accuracy": compositionalVQA.overall.accuracy,
            "zero_shot_accuracy": zeroShotAccuracy, "zero_shot_chance": zeroShotChance,
            "retrieval_r1": retrievalR1, "retrieval_r5": retrievalR5, "retrieval_r10": retrievalR10,
            "bleu4": bleu4, "cider": cider, "seconds": seconds, "trainable_parameters": trainableParameters,
        ]
        o["vqa_by_type"] = vqa.byType.mapValues { ["accuracy": $0.accuracy, "chance": $0.majorityBaseline, "count": $0.count] }
        return o
    }

    var table: String {
        func pct(_ x: Double) -> String { String(format: "%5.1f%%", 100 * x) }
        var rows: [(String, String, String)] = [
            ("CLIP zero-shot (48 object classes)", pct(zeroShotAccuracy), pct(zeroShotChance)),
            ("CLIP text→image retrieval R@1 / R@5 / R@10", "\(pct(retrievalR1)) / \(pct(retrievalR5)) / \(pct(retrievalR10))", ""),
            ("LLaVA VQA, all questions (\(vqa.overall.count))", pct(vqa.overall.accuracy), pct(vqa.overall.majorityBaseline)),
        ]
        for (type, a) in vqa.byType.sorted(by: { $0.key < $1.key }) {
            rows.append(("  \(type) (\(a.count))", pct(a.accuracy), pct(a.majorityBaseline)))
        }
        rows.append(("LLaVA VQA, held-out colour–shape pairs (\(compositionalVQA.overall.count))", pct(compositionalVQA.overall.accuracy),
                     pct(compositionalVQA.overall.majorityBaseline)))
        rows.append(("LLaVA captions BLEU-4 / CIDEr-D", String(format: "%.3f / %.3f", bleu4, cider), ""))
        let width = rows.map(\.0.count).max()!
        var lines = ["metric".padding(toLength: width, withPad: " ", startingAt: 0) + "   measured        chance (majority answer)"]
        for (name, value, chance) in rows {
            lines.append(name.padding(toLength: width, withPad: " ", startingAt: 0) + "   " + value.padding(toLength: 16, withPad: " ", startingAt: 0) + chance)
        }
        if let e = example {
            lines.append("")
            lines.append("held-out scene: \"\(e.caption)\"")
            lines.append("Q: \(e.question)   A (LLaVA): \(e.answer)   truth: \(e.truth)")
        }
        lines.append(String(format: "\ntook %.0f s", seconds))
        return lines.joined(separator: "\n")
    }
}
