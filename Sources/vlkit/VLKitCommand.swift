import ArgumentParser
import VLTensor

@main
struct VLKitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vlkit",
        abstract: "Run, train and align vision-language models, in Swift.",
        subcommands: [
            DemoCommand.self, TrainCommand.self, EvalCommand.self, DataCommand.self, Generate.self, Chat.self,
            Embed.self, CLIPCommand.self, Models.self, Serve.self, Convert.self,
            InfoCommand.self,
        ])
}
