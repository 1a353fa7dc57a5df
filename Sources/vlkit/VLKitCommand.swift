import ArgumentParser
import VLTensor

@main
struct VLKitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vlkit",
        abstract: "Run, train and align vision-language models, in Swift.",
        subcommands: [
            DemoCommand.self, TrainCommand.self, EvalCommand.self, DataCommand.self, Generate.self, Chat.self,
            Embed.self, CLIPCommand.self, Models.self, Serve.self,
            Info.self,
        ])
}

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the kernels and threads this machine uses.")
    func run() {
        print("kernels: \(String(cString: ck_isa_name()))  threads: \(Parallel.threadCount)")
    }
}
