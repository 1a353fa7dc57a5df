import Foundation
import VLImaging
import VLModels
import VLTensor

/// Few-shot scores of a Flamingo directory on the world: VQA accuracy and caption BLEU-4/CIDEr-D
/// with `shots` in-context examples (random training scenes) before each test scene.
public struct FlamingoScores: Equatable {
    public let shots: Int
    public let vqa: VQAAccuracy
    public let bleu4: Double
    public let cider: Double
    public let scenes: Int
}

public enum FlamingoEvaluation {
    /// Greedy answers and captions for `test`, each prompt starting with `shots` examples drawn from `demos`.
    public static func scores(
        _ pipeline: GenerationPipeline, test: [WorldSample], demos: [WorldSample], shots: Int,
        seed: UInt64 = 0
    ) throws -> FlamingoScores {
        var rng = RandomGenerator(seed: seed)
        var outcomes: [VQAOutcome] = [], captions: [[String]] = []
        for s in test {
            let image = s.scene.render()
            for qa in s.questions {
                let shown = (0..<shots).map { _ in demos[rng.nextInt(demos.count)] }
                let examples = shown.map { d in
                    d.questions.isEmpty
                        ? d.caption : FlamingoPretraining.questionAndAnswer(d.questions[rng.nextInt(d.questions.count)])
                }
                let answer = try generate(
                    pipeline, FlamingoPretraining.prompt(examples: examples, query: qa.question), shown, image,
                    maxTokens: 4)
                outcomes.append(VQAOutcome(questionType: qa.type.rawValue, prediction: answer, truth: qa.answer))
            }
            let shown = (0..<shots).map { _ in demos[rng.nextInt(demos.count)] }
            let caption = try generate(
                pipeline, FlamingoPretraining.prompt(examples: shown.map(\.caption), query: ""), shown, image,
                maxTokens: 30)
            captions.append(caption.split(separator: " ").map(String.init))
        }
        let references = test.map { [$0.caption.split(separator: " ").map(String.init)] }
        return FlamingoScores(
            shots: shots, vqa: VQAAccuracy(outcomes), bleu4: bleu4(candidates: captions, references: references),
            cider: cider(candidates: captions, references: references), scenes: test.count)
    }

    private static func generate(
        _ pipeline: GenerationPipeline, _ prompt: String, _ shown: [WorldSample], _ image: RGBImage,
        maxTokens: Int
    ) throws -> String {
        try pipeline.generate(
            prompt: prompt, images: shown.map { $0.scene.render() } + [image], raw: true,
            sampling: SamplingParameters(),
            maxTokens: maxTokens
        ).text.trimmingCharacters(in: .whitespaces)
    }
}
