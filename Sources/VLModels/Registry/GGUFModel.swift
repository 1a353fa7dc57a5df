import Foundation
import VLFiles
import VLIO
import VLTokenizers

/// A model family that runs llama.cpp's GGUF files: which `general.architecture` values it reads, the
/// config.json the file's `{arch}.*` metadata amounts to (as transformers' GGUF loader builds it), and
/// the model's name for each tensor. One more source of the same model: loading then goes through
/// `load(from:format:)` as for a Hugging Face directory.
public protocol GGUFModel: LoadableModel {
    static var ggufArchitectures: [String] { get }
    static func ggufConfig(_ file: GGUFFile) throws -> [String: Any]
    static func ggufTensors(_ file: GGUFFile, config: ConfigReader) throws -> GGUFTensorMap
}

/// A vision-language family that runs a GGUF language model with an mmproj file (llama.cpp's vision
/// projector files): which `clip.projector_type` values it reads, and the directory the two make.
public protocol GGUFProjectorModel: LoadableModel {
    static var ggufProjectorTypes: [String] { get }
    static func ggufDirectory(languageModel: ModelDirectory, projector: GGUFFile) throws -> ModelDirectory
}

extension ModelRegistry {
    /// A GGUF language model and its vision projector (`--mmproj`) as one model directory.
    public static func open(_ url: URL, mmproj: URL) throws -> ModelDirectory {
        let text = try open(url)
        let projector = try GGUFFile(path: mmproj.path)
        let type = projector["clip.projector_type"]?.string ?? ""
        let families = models.compactMap { $0 as? any GGUFProjectorModel.Type }
        guard !type.isEmpty else {
            throw GGUFError(path: mmproj.path, problem: "no clip.projector_type: not a vision projector (mmproj) file")
        }
        guard let family = families.first(where: { $0.ggufProjectorTypes.contains(type) }) else {
            throw GGUFError(
                path: mmproj.path,
                problem: "projector type \"\(type)\" is not supported; supported: "
                    + families.flatMap { $0.ggufProjectorTypes }.joined(separator: ", "))
        }
        return try family.ggufDirectory(languageModel: text, projector: projector)
    }

    /// The GGUF architectures VLKit runs.
    public static var ggufArchitectures: [String] {
        models.compactMap { $0 as? any GGUFModel.Type }.flatMap { $0.ggufArchitectures }
    }

    /// A Hugging Face directory, or a GGUF file seen as one.
    public static func open(_ url: URL) throws -> ModelDirectory {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), !isFolder.boolValue else {
            return try ModelDirectory(url)
        }
        return try openGGUF(GGUFFile(path: url.path))
    }

    public static func openGGUF(_ file: GGUFFile) throws -> ModelDirectory {
        guard let arch = file.architecture else {
            throw GGUFError(path: file.path, problem: "no general.architecture: not a model file")
        }
        let families = models.compactMap { $0 as? any GGUFModel.Type }
        guard let family = families.first(where: { $0.ggufArchitectures.contains(arch) }) else {
            let hint = file["clip.projector_type"] != nil ? " (a vision projector: pass it with --mmproj)" : ""
            throw GGUFError(
                path: file.path,
                problem: "architecture \"\(arch)\" is not supported\(hint); supported: "
                    + ggufArchitectures.joined(separator: ", "))
        }
        let config = try family.ggufConfig(file)
        let tensors = try family.ggufTensors(file, config: ConfigReader(config, source: file.path))
        let vocabulary = try GGUFVocabulary(file)
        let (tokenizerJSON, tokenizerConfig) = try vocabulary.tokenizerFiles(file: file.path)
        return try ModelDirectory(
            gguf: tensors, config: config, tokenizerJSON: tokenizerJSON, tokenizerConfig: tokenizerConfig,
            chatTemplate: file["tokenizer.chat_template"]?.string)
    }
}

extension GGUFVocabulary {
    /// The `tokenizer.*` metadata of a GGUF file.
    init(_ file: GGUFFile) throws {
        func fail(_ problem: String) -> GGUFError { GGUFError(path: file.path, problem: problem) }
        guard let model = file["tokenizer.ggml.model"]?.string else { throw fail("no tokenizer.ggml.model") }
        guard let tokens = file["tokenizer.ggml.tokens"]?.strings else {
            throw fail("no tokenizer.ggml.tokens (a list of strings)")
        }
        self.init(model: model, tokens: tokens)
        pre = file["tokenizer.ggml.pre"]?.string
        scores = try file["tokenizer.ggml.scores"].map { v in
            guard let list = v.array?.compactMap({ $0.double.map(Float.init) }), list.count == v.array?.count else {
                throw fail("tokenizer.ggml.scores is not a list of numbers")
            }
            return list
        }
        tokenTypes = try file["tokenizer.ggml.token_type"].map { v in
            guard let list = v.array?.compactMap(\.int), list.count == v.array?.count else {
                throw fail("tokenizer.ggml.token_type is not a list of integers")
            }
            return list
        }
        merges = try file["tokenizer.ggml.merges"].map { v in
            guard let list = v.strings else { throw fail("tokenizer.ggml.merges is not a list of strings") }
            return list
        }
        bosTokenId = file["tokenizer.ggml.bos_token_id"]?.int
        eosTokenId = file["tokenizer.ggml.eos_token_id"]?.int
        unknownTokenId = file["tokenizer.ggml.unknown_token_id"]?.int
        paddingTokenId = file["tokenizer.ggml.padding_token_id"]?.int
        addBosToken = file["tokenizer.ggml.add_bos_token"]?.bool
        addEosToken = file["tokenizer.ggml.add_eos_token"]?.bool
        addSpacePrefix = file["tokenizer.ggml.add_space_prefix"]?.bool
        architecture = file.architecture
    }
}

/// Reading `{arch}.*` metadata with errors that name the key.
struct GGUFMetadata {
    let file: GGUFFile
    let arch: String

    func int(_ key: String) throws -> Int {
        guard let v = file["\(arch).\(key)"] else { throw fail("no \(arch).\(key)") }
        guard let i = v.int else { throw fail("\(arch).\(key) is not an integer") }
        return i
    }

    func optionalInt(_ key: String) throws -> Int? {
        guard let v = file["\(arch).\(key)"] else { return nil }
        guard let i = v.int else { throw fail("\(arch).\(key) is not an integer") }
        return i
    }

    func optionalDouble(_ key: String) throws -> Double? {
        guard let v = file["\(arch).\(key)"] else { return nil }
        guard let d = v.double else { throw fail("\(arch).\(key) is not a number") }
        return d
    }

    func fail(_ problem: String) -> GGUFError { GGUFError(path: file.path, problem: problem) }
}
