import Foundation
import VLFiles
import VLIO

/// The `config.json` of a MiniGPT-4 directory (as the minigpt4 recipe writes it), in the spirit of
/// MiniGPT-4's own eval configs:
///
///     {"model_type": "minigpt4", "blip2": "blip2", "language_model": "language_model",
///      "llama_proj": "llama_proj.safetensors", "prompt_template": "###Human: {} ###Assistant:",
///      "image_prompt": "<Img><ImageHere></Img>", "stop": "###"}
///
/// The part paths are relative to the directory: a BLIP-2 directory (vision tower, queries,
/// Q-Former, image processor), a LLaMA-family directory (with the tokenizer) and the projection.
/// A user turn is `prompt_template` with `{}` replaced by its text, preceded by `image_prompt` when
/// the turn has the image (`<ImageHere>` is where the 32 query outputs go); answers end at `stop`.
public struct MiniGPT4Config {
    public static let modelType = "minigpt4"

    public var blip2 = "blip2"
    public var languageModel = "language_model"
    public var projection = "llama_proj.safetensors"
    public var promptTemplate = "###Human: {} ###Assistant:"
    public var imagePrompt = "<Img>\(MiniGPT4.imagePlaceholder)</Img>"
    public var stop = "###"

    public init() {}

    public init(_ r: ConfigReader) throws {
        blip2 = try r.string("blip2", blip2)
        languageModel = try r.string("language_model", languageModel)
        projection = try r.string("llama_proj", projection)
        promptTemplate = try r.string("prompt_template", promptTemplate)
        imagePrompt = try r.string("image_prompt", imagePrompt)
        stop = try r.string("stop", stop)
        guard promptTemplate.contains("{}") else {
            throw ConfigError("\(r.source): prompt_template needs {} where the user's text goes")
        }
        guard imagePrompt.contains(MiniGPT4.imagePlaceholder) else {
            throw ConfigError("\(r.source): image_prompt needs \(MiniGPT4.imagePlaceholder) where the image goes")
        }
    }

    public var jsonObject: [String: Any] {
        [
            "model_type": Self.modelType, "blip2": blip2, "language_model": languageModel, "llama_proj": projection,
            "prompt_template": promptTemplate, "image_prompt": imagePrompt, "stop": stop,
        ]
    }

    /// A user turn's text as the model reads it.
    public func userTurn(_ text: String, hasImage: Bool) -> String {
        promptTemplate.replacingOccurrences(of: "{}", with: hasImage ? imagePrompt + " " + text : text)
    }

    /// The parts' locations in `directory`; a missing one is an error naming its key and path.
    public func parts(in directory: URL) throws -> (blip2: URL, languageModel: URL, projection: URL) {
        let fm = FileManager.default
        func part(_ key: String, _ path: String) throws -> URL {
            let url = directory.appendingPathComponent(path)
            guard fm.fileExists(atPath: url.path) else {
                throw ConfigError(
                    "\(directory.appendingPathComponent("config.json").path): \"\(key)\" is \(url.path), which does not exist"
                )
            }
            return url
        }
        return (try part("blip2", blip2), try part("language_model", languageModel), try part("llama_proj", projection))
    }
}
