import ArgumentParser
import Foundation
import VLModels

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sentence embeddings from a sentence-transformers directory (BERT encoder, pooling, normalisation).")
    @Option(help: "A sentence-transformers model directory (e.g. all-MiniLM-L6-v2).") var model: String
    @Option(name: .customLong("text"), help: "A sentence (repeatable).") var texts: [String] = []
    @Flag(help: "Print {\"embeddings\": [[…], …]}.") var json = false

    func validate() throws {
        guard !texts.isEmpty else { throw ValidationError("give at least one --text") }
    }

    func run() throws {
        let embedder = try SentenceEmbedder(directory: URL(fileURLWithPath: model))
        let vectors = rows(embedder.embed(texts))
        if json {
            printJSON(["embeddings": vectors])
            return
        }
        for (text, v) in zip(texts, vectors) {
            print(
                "\(text.debugDescription): [" + v.prefix(6).map { String(format: "%.6f", $0) }.joined(separator: ", ")
                    + ", …] (\(v.count))")
        }
    }
}
