import Foundation
import VLFiles

/// A Hugging Face model directory, read once: `config.json`, the tokenizer's and the generation
/// config, the chat template and the image processor's config from wherever the writing version of
/// transformers put them, and the weights (opened on first use, then kept).
///
/// Layouts found in the wild: transformers 5 writes `processor_config.json` (the image processor
/// nested under `"image_processor"`) and `chat_template.jinja`; transformers 4.x writes
/// `preprocessor_config.json` and keeps the template in `tokenizer_config.json` or
/// `chat_template.json`.
public final class ModelDirectory {
    public let url: URL
    public let config: ConfigReader
    /// `config.json`'s `model_type` ("" when absent).
    public let modelType: String
    /// `config.json`'s `architectures` (empty when absent).
    public let architectures: [String]
    /// `tokenizer_config.json` as parsed, when present.
    public let tokenizerConfig: [String: Any]?
    /// `generation_config.json`, when present.
    public let generationConfig: ConfigReader?
    /// `processor_config.json` (transformers 5's whole-processor file), when present.
    public let processorConfig: ConfigReader?
    /// The image processor's settings, from `preprocessor_config.json` or nested in `processor_config.json`.
    public let imageProcessorConfig: ConfigReader?
    /// The chat template text and the file it came from.
    public let chatTemplate: (text: String, file: String)?
    /// A tokenizer.json as parsed, when it comes from elsewhere than the folder (a GGUF file's metadata).
    public let tokenizerJSON: [String: Any]?
    /// The GGUF file the model comes from, when it is one.
    public let gguf: GGUFFile?
    private var openedCheckpoint: Checkpoint?

    public init(_ url: URL) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw ConfigError("\(url.path): no such model directory")
        }
        self.url = url
        let configURL = url.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw ConfigError("\(url.path): no config.json (is this a Hugging Face model directory?)")
        }
        config = try ConfigReader(contentsOf: configURL)
        modelType = try config.string("model_type", "")
        architectures = try config.strings("architectures") ?? []
        tokenizerConfig = try Self.object(url, "tokenizer_config.json")
        generationConfig = try Self.object(url, "generation_config.json").map {
            ConfigReader($0, source: "generation_config.json")
        }
        processorConfig = try Self.object(url, "processor_config.json").map {
            ConfigReader($0, source: "processor_config.json")
        }
        imageProcessorConfig = try Self.imageProcessorConfig(url, processor: processorConfig)
        chatTemplate = try Self.chatTemplate(url, processor: processorConfig, tokenizer: tokenizerConfig)
        (tokenizerJSON, gguf) = (nil, nil)
    }

    /// A GGUF file seen as the directory transformers would make of it: `config` and the tokenizer's
    /// files built from its metadata by the model family, the tensors under the model's names.
    public init(
        gguf tensors: GGUFTensorMap, config: [String: Any], tokenizerJSON: [String: Any],
        tokenizerConfig: [String: Any], chatTemplate: String?, imageProcessor: [String: Any]? = nil
    ) throws {
        let url = URL(fileURLWithPath: tensors.file.path)
        self.url = url
        self.config = ConfigReader(config, source: url.lastPathComponent)
        modelType = try self.config.string("model_type", "")
        architectures = try self.config.strings("architectures") ?? []
        (self.tokenizerJSON, self.tokenizerConfig, gguf) = (tokenizerJSON, tokenizerConfig, tensors.file)
        (generationConfig, processorConfig) = (nil, nil)
        imageProcessorConfig = imageProcessor.map { ConfigReader($0, source: url.lastPathComponent) }
        self.chatTemplate = chatTemplate.map { ($0, "tokenizer.chat_template") }
        openedCheckpoint = Checkpoint(gguf: tensors)
    }

    /// The path of a file in the directory, or nil when it does not exist (or the model is a GGUF file).
    public func file(_ name: String) -> URL? {
        guard gguf == nil else { return nil }
        let u = url.appendingPathComponent(name)
        return FileManager.default.fileExists(atPath: u.path) ? u : nil
    }

    /// The weights (single file or shards), opened once.
    public func checkpoint() throws -> Checkpoint {
        if let openedCheckpoint { return openedCheckpoint }
        let c = try Checkpoint(directory: url)
        openedCheckpoint = c
        return c
    }

    /// `config.json` with the directory's path (a GGUF file's own path), for error messages.
    public var configPath: String { gguf == nil ? url.appendingPathComponent("config.json").path : url.path }

    /// A JSON object file of the directory, nil when the file is absent; an error when it is not an object.
    static func object(_ dir: URL, _ name: String) throws -> [String: Any]? {
        let u = dir.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: u.path) else { return nil }
        return try ConfigReader(contentsOf: u).values
    }

    /// transformers 5 reads the image processor from `processor_config.json`'s `"image_processor"`
    /// entry when there is one, else from `preprocessor_config.json`; a flat processor_config is the
    /// image processor itself only if it names an image processor type.
    static func imageProcessorConfig(_ dir: URL, processor: ConfigReader?) throws -> ConfigReader? {
        if let nested = try processor?.sub("image_processor") { return nested }
        if let flat = try object(dir, "preprocessor_config.json") {
            return ConfigReader(flat, source: "preprocessor_config.json")
        }
        guard let processor, processor.has("image_processor_type") else { return nil }
        return processor
    }

    /// Where transformers looks, in its order: `chat_template.jinja`, `chat_template.json`, the
    /// processor config's and then the tokenizer config's `chat_template` (a string, or a list of named
    /// templates of which "default" is used).
    static func chatTemplate(
        _ dir: URL, processor: ConfigReader?, tokenizer: [String: Any]?
    ) throws
        -> (text: String, file: String)?
    {
        let jinja = dir.appendingPathComponent("chat_template.jinja")
        if let data = FileManager.default.contents(atPath: jinja.path) {
            guard let text = String(data: data, encoding: .utf8) else {
                throw ConfigError("\(jinja.path) is not UTF-8 text")
            }
            return (text, "chat_template.jinja")
        }
        let sources: [(String, [String: Any]?)] = [
            ("chat_template.json", try object(dir, "chat_template.json")),
            ("processor_config.json", processor?.values), ("tokenizer_config.json", tokenizer),
        ]
        for (file, json) in sources {
            guard let value = json?["chat_template"], !(value is NSNull) else { continue }
            if let text = value as? String { return (text, file) }
            if let list = value as? [[String: Any]] {
                let named = list.first { $0["name"] as? String == "default" } ?? list.first
                if let text = named?["template"] as? String { return (text, file) }
            }
            throw ConfigError(
                "\(dir.appendingPathComponent(file).path): \"chat_template\" should be a string "
                    + "or a list of {\"name\", \"template\"}")
        }
        return nil
    }
}
