import Foundation
import VLFiles

/// Where a model directory keeps its image processor, found as transformers 5 looks for it
/// (`ImageProcessingMixin.get_image_processor_dict`): the `"image_processor"` object of
/// `processor_config.json` when there is one (what `processor.save_pretrained` writes in
/// transformers 5, with no preprocessor_config.json), else `preprocessor_config.json` (flat: what
/// an image processor's own `save_pretrained` writes, and every processor of transformers 4.x).
public struct ImageProcessorConfig {
    /// The image processor's fields, flat. Its `source` names the file (and `image_processor`).
    public let imageProcessor: ConfigReader
    /// The file they came from.
    public let file: URL
    /// True when they are the `"image_processor"` object of processor_config.json.
    public let nested: Bool
    /// The processor's own fields (patch size, image token, …), from either layout.
    public let processor: ProcessorFields
    /// `model_type` of the directory's config.json, if any: chooses the class when the file names none.
    public let modelType: String?

    public static let processorConfigName = "processor_config.json"
    public static let preprocessorConfigName = "preprocessor_config.json"

    public init(imageProcessor: ConfigReader, file: URL, nested: Bool, processor: ProcessorFields, modelType: String?) {
        (self.imageProcessor, self.file, self.nested, self.processor, self.modelType) = (
            imageProcessor, file, nested, processor, modelType
        )
    }
}

extension ImageProcessor {
    /// Finds the image processor config of a model directory in processor_config.json
    /// (nested) or preprocessor_config.json, in transformers 5's order, and reads the processor's
    /// own fields from processor_config.json's top level (then from the image processor's fields).
    public static func findConfig(in directory: URL) throws -> ImageProcessorConfig {
        let fm = FileManager.default
        let processorURL = directory.appendingPathComponent(ImageProcessorConfig.processorConfigName)
        let preprocessorURL = directory.appendingPathComponent(ImageProcessorConfig.preprocessorConfigName)
        let processorFile = fm.fileExists(atPath: processorURL.path) ? try readObject(processorURL) : nil
        var modelType: String?
        let configURL = directory.appendingPathComponent("config.json")
        if fm.fileExists(atPath: configURL.path), let config = try? readObject(configURL) {
            modelType = config.values["model_type"] as? String
        }
        if let p = processorFile, let nested = try p.sub("image_processor") {
            return ImageProcessorConfig(
                imageProcessor: nested, file: processorURL, nested: true,
                processor: try ProcessorFields(processorConfig: p, imageProcessorConfig: nested), modelType: modelType)
        }
        guard fm.fileExists(atPath: preprocessorURL.path) else {
            throw ConfigError(
                "\(directory.path): no image processor config: no \(ImageProcessorConfig.preprocessorConfigName) and no "
                    + "\(ImageProcessorConfig.processorConfigName) with an \"image_processor\" object")
        }
        let flat = try readObject(preprocessorURL)
        return ImageProcessorConfig(
            imageProcessor: flat, file: preprocessorURL, nested: false,
            processor: try ProcessorFields(processorConfig: processorFile, imageProcessorConfig: flat),
            modelType: modelType)
    }

    /// A JSON object file, its path as the source of error messages.
    static func readObject(_ url: URL) throws -> ConfigReader {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ConfigError("\(url.path): cannot be read: \(error.localizedDescription)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let dict = object as? [String: Any] else {
            throw ConfigError("\(url.path): is not a JSON object")
        }
        return ConfigReader(dict, source: url.path)
    }
}

/// The processor-level fields a model needs to expand image tokens, from processor_config.json
/// (transformers 5 writes them at its top level next to `"image_processor"`; transformers 4.x
/// wrote a flat processor_config.json of only these, or had none) or, for what it lacks, the
/// image processor's own fields (e.g. `image_seq_length` in a 4.x preprocessor_config.json).
/// nil where no file has the field.
public struct ProcessorFields: Equatable {
    public var processorClass: String?
    /// LLaVA: the vision tower's patch size, for the number of image tokens.
    public var patchSize: Int?
    /// LLaVA: 1 when the vision tower adds a CLS token the strategy may drop.
    public var numAdditionalImageTokens: Int?
    /// LLaVA: "default" (drop the CLS feature) or "full".
    public var visionFeatureSelectStrategy: String?
    public var imageToken: String?
    /// BLIP-2 / InstructBLIP: the query tokens per image.
    public var numQueryTokens: Int?
    public var imageSeqLength: Int?

    public init() {}

    /// The fields at the top level of one object.
    public init(_ r: ConfigReader) throws {
        processorClass = try r.optionalString("processor_class")
        patchSize = try Self.int(r, "patch_size", 1...ImageProcessor.maxSide)
        numAdditionalImageTokens = try Self.int(r, "num_additional_image_tokens", 0...65536)
        numQueryTokens = try Self.int(r, "num_query_tokens", 1...65536)
        imageSeqLength = try Self.int(r, "image_seq_length", 1...1_000_000)
        visionFeatureSelectStrategy = try r.optionalString("vision_feature_select_strategy")
        if let s = visionFeatureSelectStrategy, s != "default" && s != "full" {
            throw ConfigError(
                "\(r.source): \"vision_feature_select_strategy\" is \"\(s)\"; transformers knows \"default\" and \"full\""
            )
        }
        if let v = r.presentValue("image_token") {
            // A string, or an AddedToken written as an object with its "content".
            guard let s = (v as? String) ?? ((v as? [String: Any])?["content"] as? String), !s.isEmpty else {
                throw ConfigError(
                    "\(r.source): \"image_token\" should be a non-empty string, found \(ImageProcessor.show(v))")
            }
            imageToken = s
        }
    }

    /// processor_config.json's top level first, then the image processor's fields for what it lacks.
    public init(processorConfig: ConfigReader?, imageProcessorConfig: ConfigReader?) throws {
        self.init()
        for r in [processorConfig, imageProcessorConfig].compactMap({ $0 }) { fill(from: try ProcessorFields(r)) }
    }

    /// Every field still nil taken from `other`.
    public mutating func fill(from other: ProcessorFields) {
        processorClass = processorClass ?? other.processorClass
        patchSize = patchSize ?? other.patchSize
        numAdditionalImageTokens = numAdditionalImageTokens ?? other.numAdditionalImageTokens
        visionFeatureSelectStrategy = visionFeatureSelectStrategy ?? other.visionFeatureSelectStrategy
        imageToken = imageToken ?? other.imageToken
        numQueryTokens = numQueryTokens ?? other.numQueryTokens
        imageSeqLength = imageSeqLength ?? other.imageSeqLength
    }

    private static func int(_ r: ConfigReader, _ key: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let n = try r.optionalInt(key) else { return nil }
        guard range.contains(n) else {
            throw ConfigError("\(r.source): \"\(key)\" is \(n), outside \(range.lowerBound)–\(range.upperBound)")
        }
        return n
    }
}
