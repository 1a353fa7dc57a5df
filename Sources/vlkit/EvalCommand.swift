import ArgumentParser
import Foundation
import VLIO
import VLModels
import VLTraining

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract:
            "Score a model directory on a dataset folder (questions.jsonl, captions.jsonl, as `vlkit data synth` writes).",
        discussion: """
            A generative model (LLaVA, BLIP-2, mPLUG-Owl, MiniGPT-4) gets VQA accuracy per question type and caption \
            BLEU-4/CIDEr-D; a retrieval model (CLIP, a BLIP-2 stage-1 Q-Former, ALBEF) gets image↔text recall at 1, 5 and 10 \
            on the captions.
            """)

    @Option(help: "A Hugging Face model directory.") var model: String
    @Option(help: "A dataset folder.") var data: String
    @Option(help: "Most images to caption.") var captionLimit = 100
    @Flag(help: "Print one JSON object.") var json = false

    func run() throws {
        let folder = URL(fileURLWithPath: data)
        let questionsFile = folder.appendingPathComponent(WorldExport.questionsFile)
        let captionsFile = folder.appendingPathComponent(WorldExport.captionsFile)
        let fm = FileManager.default
        guard fm.fileExists(atPath: questionsFile.path) || fm.fileExists(atPath: captionsFile.path) else {
            throw ValidationError(
                "--data \(folder.path): no \(WorldExport.questionsFile) or \(WorldExport.captionsFile) "
                    + "(`vlkit data synth --out DIR --count N` writes a dataset folder)")
        }
        let directory = URL(fileURLWithPath: model)
        var out: [String: Any] = [:]
        if let score = try DatasetEvaluation.retrievalScorer(directory: directory) {
            guard fm.fileExists(atPath: captionsFile.path) else {
                throw ValidationError(
                    "--data \(folder.path): no \(WorldExport.captionsFile); a retrieval model is scored on captions")
            }
            let captions = try Dataset.captions(captionsFile).entries
            let r = try score(captions)
            out["image_to_text"] = r.imageToText.mapKeys { "r\($0)" }
            out["text_to_image"] = r.textToImage.mapKeys { "r\($0)" }
            (out["retrieval_images"], out["retrieval_captions"]) = (Set(captions.map(\.image)).count, captions.count)
        } else {
            let pipeline = try GenerationPipeline(directory: directory)
            if fm.fileExists(atPath: questionsFile.path) {
                let questions = try Dataset.questions(questionsFile).entries
                let bar = ProgressBar(total: questions.count, label: "vqa")
                let vqa = try DatasetEvaluation.vqa(pipeline, questions: questions) { bar.update(step: $0) }
                bar.finish()
                out["vqa_accuracy"] = vqa.overall.accuracy
                out["vqa_chance"] = vqa.typePriorBaseline
                out["vqa_by_type"] = vqa.byType.mapValues {
                    ["accuracy": $0.accuracy, "chance": $0.majorityBaseline, "count": $0.count]
                }
            }
            if fm.fileExists(atPath: captionsFile.path) {
                let c = try DatasetEvaluation.captions(
                    pipeline, captions: Dataset.captions(captionsFile).entries, limit: captionLimit)
                (out["bleu4"], out["cider"], out["captioned_images"]) = (c.bleu4, c.cider, c.count)
            }
        }
        if json {
            print(
                String(decoding: try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys]), as: UTF8.self)
            )
        } else {
            for (k, v) in out.sorted(by: { $0.key < $1.key }) { print("\(k): \(v)") }
        }
    }
}
