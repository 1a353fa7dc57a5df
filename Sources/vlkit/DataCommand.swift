import ArgumentParser
import Foundation
import VLTraining

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Datasets in the standard formats.",
        subcommands: [Synth.self])
}

extension DataCommand {
    struct Synth: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write scenes of the built-in world as a dataset.",
            discussion: """
                Writes images/<id>.png, captions.jsonl ({"image", "caption"}), llava.json (LLaVA \
                conversations: the caption request, then one turn per question) and questions.jsonl \
                ({"image", "question", "answer", "type"}) under --out.
                """)

        @Option(help: "The folder to write (created if needed).") var out: String
        @Option(help: "How many scenes.") var count: Int
        @Option(help: "Random seed of the world.") var seed: UInt64 = 0
        @Option(help: "train, validation, test or compositional (held-out colour–shape pairs).") var split: WorldSplit =
            .train
        @Option(help: "Width and height of the images in pixels.") var imageSize = 64

        func validate() throws {
            guard count > 0 else { throw ValidationError("--count must be at least 1") }
            guard (16...512).contains(imageSize) else { throw ValidationError("--image-size must be in 16…512") }
        }

        func run() throws {
            let samples = World(imageSize: imageSize).samples(split, count: count, seed: seed)
            let bar = count >= 500 ? ProgressBar(total: count, label: "synth") : nil
            try WorldExport.write(samples, to: URL(fileURLWithPath: out)) { bar?.update(step: $0) }
            bar?.finish()
            print(
                "wrote \(count) \(split.rawValue) scenes to \(out): images/, \(WorldExport.captionsFile), "
                    + "\(WorldExport.conversationsFile), \(WorldExport.questionsFile)")
        }
    }
}

extension WorldSplit: ExpressibleByArgument {}
