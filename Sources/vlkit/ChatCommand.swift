import ArgumentParser
import Foundation
import VLImaging
import VLModels
import VLTensor

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Talk with a model: one line a turn, with history. /image PATH attaches an image, /reset forgets, /exit ends."
    )
    @OptionGroup var options: GenerationOptions
    @Option(help: "An image attached to the first message.") var image: String?

    func run() throws {
        let pipeline = try options.loadPipeline()
        var conversation: [ChatMessage] = []
        var images: [RGBImage] = []
        var pending = try image.map { [try options.image($0)] } ?? []
        let interactive = isatty(STDIN_FILENO) != 0
        func prompt() { if interactive { FileHandle.standardError.write("> ".data(using: .utf8)!) } }
        prompt()
        while let line = readLine() {
            let text = line.trimmingCharacters(in: .whitespaces)
            defer { prompt() }
            if text.isEmpty { continue }
            if text == "/exit" || text == "/quit" { break }
            if text == "/reset" {
                (conversation, images, pending) = ([], [], [])
                note("(conversation cleared)")
                continue
            }
            if text.hasPrefix("/image ") {
                do {
                    pending.append(try options.image(String(text.dropFirst(7)).trimmingCharacters(in: .whitespaces)))
                    note("(image attached to the next message)")
                } catch {
                    note("error: \(error)")
                }
                continue
            }
            if text.hasPrefix("/") {
                note("error: unknown command \(text.split(separator: " ")[0]); use /image PATH, /reset or /exit")
                continue
            }
            let turn = ChatMessage.turn(role: "user", text: text, images: pending.count, asParts: pipeline.takesImages)
            do {
                let result = try pipeline.reply(
                    to: conversation + [turn], images: images + pending, sampling: options.sampling,
                    maxTokens: options.maxTokens
                ) { piece in
                    FileHandle.standardOutput.write(piece.data(using: .utf8)!)
                    return true
                }
                FileHandle.standardOutput.write("\n".data(using: .utf8)!)
                conversation += [
                    turn, .turn(role: "assistant", text: result.text, images: 0, asParts: pipeline.takesImages),
                ]
                images += pending
                pending = []
            } catch {
                note("error: \(error)")  // the turn is dropped; the conversation goes on
            }
        }
    }
}
