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
    @Flag(
        help:
            "Train every connector family (linear, MLP, Q-Former, visual abstractor, Flamingo) on equal terms and compare them."
    )
    var compareConnectors = false
    @Flag(
        help:
            "VPGTrans: move a projector trained on the demo's LLaMA to a second LLaMA and compare with training it there from scratch."
    )
    var vpgTransfer = false
    @Option(help: "Also write an HTML report (metrics, loss curves, test scenes with answers) into this folder.")
    var report: String?

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
            demo.options[keyPath: path].steps = max(
                1, Int((Double(demo.options[keyPath: path].steps) * stepScale).rounded()))
        }
        demo.options.connectors.steps = max(1, Int((Double(demo.options.connectors.steps) * stepScale).rounded()))
        for path in [\Demo.Options.clip, \.languageModel, \.stage1, \.stage2, \.connectors] {
            demo.options[keyPath: path].warmupSteps = min(
                demo.options[keyPath: path].warmupSteps, demo.options[keyPath: path].steps / 5)
        }
        demo.log = { message in FileHandle.standardError.write(Data((message + "\n").utf8)) }
        var bars: [String: ProgressBar] = [:]
        demo.onStep = { stage, settings, record in
            let total = settings.steps
            let bar =
                bars[stage]
                ?? ProgressBar(total: total, label: stage, samplesPerStep: settings.batchSize * settings.accumulation)
            bars[stage] = bar
            bar.update(
                step: record.step,
                fields: [
                    ("loss", String(format: "%.3f", record.loss)),
                    ("lr", String(format: "%.1e", record.learningRate)),
                ])
            if record.step == total { bar.finish() }
        }
        var evaluation: ProgressBar?
        demo.onEvaluate = { name, total, done in
            if done == 1 { evaluation = ProgressBar(total: total, label: "evaluating \(name)") }
            evaluation?.update(step: done)
            if done == total { evaluation?.finish() }
        }
        if vpgTransfer {
            let r = try demo.transferVPG()
            if json {
                print(
                    String(
                        decoding: try JSONSerialization.data(
                            withJSONObject: [
                                "steps": r.steps, "scratch_loss": Double(r.scratchLoss),
                                "transfer_steps_to_scratch_loss": r.transferStepsToScratchLoss as Any,
                                "scratch_vqa_accuracy": r.scratchAccuracy, "transfer_vqa_accuracy": r.transferAccuracy,
                            ], options: [.sortedKeys]), as: UTF8.self))
            } else {
                let reached =
                    r.transferStepsToScratchLoss.map { "after \($0) of \(r.steps) steps (\(r.steps - $0) steps saved)" }
                    ?? "not within \(r.steps) steps"
                print(
                    String(
                        format: "VPGTrans: the transferred projector reached the from-scratch loss %.3f %@\n"
                            + "VQA after %d steps on the new LLM: from scratch %.1f%%, transferred %.1f%%",
                        r.scratchLoss, reached, r.steps, 100 * r.scratchAccuracy, 100 * r.transferAccuracy))
            }
            return
        }
        if compareConnectors {
            let (result, scores) = try demo.compareConnectors()
            if json {
                print(
                    String(
                        decoding: try JSONSerialization.data(
                            withJSONObject: ["clip": result.jsonObject, "connectors": scores.map(\.jsonObject)],
                            options: [.sortedKeys]), as: UTF8.self))
            } else {
                print(scoreTable(scores))
            }
            return
        }
        let result = try demo.run()
        if let report {
            let folder = URL(fileURLWithPath: report)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try result.report().write(to: folder.appendingPathComponent("index.html"))
            FileHandle.standardError.write(Data("report: \(folder.appendingPathComponent("index.html").path)\n".utf8))
        }
        if json {
            print(
                String(
                    decoding: try JSONSerialization.data(withJSONObject: result.jsonObject, options: [.sortedKeys]),
                    as: UTF8.self))
        } else {
            print(result.table)
        }
    }
}

extension DemoResult {
    var jsonObject: [String: Any] {
        var o: [String: Any] = [
            "vqa_accuracy": vqa.overall.accuracy, "vqa_chance": vqa.typePriorBaseline,
            "compositional_vqa_accuracy": compositionalVQA.overall.accuracy,
            "zero_shot_accuracy": zeroShotAccuracy, "zero_shot_chance": zeroShotChance,
            "retrieval_r1": retrievalR1, "retrieval_r5": retrievalR5, "retrieval_r10": retrievalR10,
            "bleu4": bleu4, "cider": cider, "seconds": seconds, "trainable_parameters": trainableParameters,
        ]
        o["vqa_by_type"] = vqa.byType.mapValues {
            ["accuracy": $0.accuracy, "chance": $0.majorityBaseline, "count": $0.count]
        }
        return o
    }

    var table: String {
        let rows = metricRows
        let width = rows.map(\.0.count).max()!
        var lines = [
            "metric".padding(toLength: width, withPad: " ", startingAt: 0)
                + "   measured        chance (majority answer)"
        ]
        for (name, value, chance) in rows {
            lines.append(
                name.padding(toLength: width, withPad: " ", startingAt: 0) + "   " + value
                    + String(repeating: " ", count: max(2, 16 - value.count)) + chance)
        }
        if let e = answered.first(where: { $0.question.type == .position }) ?? answered.first {
            lines.append("")
            lines.append("a test scene: \"\(e.sample.caption)\"")
            lines.append("Q: \(e.question.question)   A (LLaVA): \(e.answer)   truth: \(e.question.answer)")
        }
        lines.append(String(format: "\ntook %.0f s", seconds))
        return lines.joined(separator: "\n")
    }
}

extension ConnectorScore {
    var jsonObject: [String: Any] {
        [
            "connector": family.rawValue, "trainable_parameters": trainableParameters, "image_tokens": imageTokens,
            "vqa_accuracy": vqa.overall.accuracy, "vqa_chance": vqa.typePriorBaseline, "bleu4": bleu4, "cider": cider,
            "seconds": seconds, "final_loss": Double(finalLoss),
            "vqa_by_type": vqa.byType.mapValues { ["accuracy": $0.accuracy, "chance": $0.majorityBaseline] },
        ]
    }
}

/// The comparison as a table, one row per connector family.
func scoreTable(_ scores: [ConnectorScore]) -> String {
    let types = QuestionType.allCases.map(\.rawValue)
    var lines = [
        "connector    trainable  image tokens  VQA     "
            + types.map { $0.padding(toLength: 9, withPad: " ", startingAt: 0) }.joined()
            + "BLEU-4  CIDEr-D  train s"
    ]
    for s in scores {
        let perType = types.map { String(format: "%5.1f%%   ", 100 * (s.vqa.byType[$0]?.accuracy ?? 0)) }.joined()
        lines.append(
            s.family.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)
                + String(
                    format: " %9d  %12d  %5.1f%%  ", s.trainableParameters, s.imageTokens, 100 * s.vqa.overall.accuracy)
                + perType + String(format: "%.3f   %.3f    %.0f", s.bleu4, s.cider, s.seconds))
    }
    if let first = scores.first {
        let chance = types.map { String(format: "%5.1f%%   ", 100 * (first.vqa.byType[$0]?.majorityBaseline ?? 0)) }
            .joined()
        lines.append(
            "majority answer" + String(repeating: " ", count: 26)
                + String(format: "%5.1f%%  ", 100 * first.vqa.typePriorBaseline) + chance)
    }
    lines.append("")
    lines += scores.map { "\($0.family.rawValue): \($0.family.paper)" }
    return lines.joined(separator: "\n")
}
