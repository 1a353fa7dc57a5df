import Foundation
import VLTensor

/// The weights of a Hugging Face model directory: `model.safetensors`, or shards listed in
/// `model.safetensors.index.json` (`weight_map`: tensor name → shard file); or of a GGUF file, under
/// the model's names.
public struct Checkpoint {
    public let directory: URL
    /// Tensor name → the file that holds it.
    private let files: [String: SafetensorsFile]
    private let gguf: GGUFTensorMap?

    /// The GGUF tensors, when the weights come from GGUF files.
    public var ggufTensors: GGUFTensorMap? { gguf }

    public init(gguf map: GGUFTensorMap) {
        (directory, files, gguf) = (URL(fileURLWithPath: map.file.path), [:], map)
    }

    public init(directory: URL) throws {
        self.directory = directory
        let single = directory.appendingPathComponent("model.safetensors")
        let indexURL = directory.appendingPathComponent("model.safetensors.index.json")
        let fm = FileManager.default
        gguf = nil
        if fm.fileExists(atPath: indexURL.path) {
            files = try Checkpoint.openShards(indexURL, in: directory)
        } else if fm.fileExists(atPath: single.path) {
            let f = try SafetensorsFile(path: single.path)
            files = Dictionary(uniqueKeysWithValues: f.names.map { ($0, f) })
        } else {
            throw SafetensorsError(
                path: directory.path,
                problem: "no weights found (looked for model.safetensors and model.safetensors.index.json)")
        }
    }

    public var names: [String] { gguf.map { $0.entries.keys.sorted() } ?? files.keys.sorted() }

    public func tensor(_ name: String) throws -> Tensor {
        if let gguf { return try gguf.tensor(name) }
        guard let f = files[name] else {
            throw SafetensorsError(path: directory.path, problem: "no tensor named \(name)")
        }
        return try f.tensor(name)
    }

    /// The tensor as stored block-quantised (GGUF), for the quantised kernels; nil when it is not.
    public func quantizedMatrix(_ name: String) throws -> QuantizedMatrix? { try gguf?.quantizedMatrix(name) }

    /// See `SafetensorsFile.releasePages`.
    public func releasePages(_ name: String) { files[name]?.releasePages(name) }

    /// Every tensor by name (zero-copy views of the mapped files).
    public func tensors() throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for name in names { result[name] = try tensor(name) }
        return result
    }

    private static func openShards(_ indexURL: URL, in directory: URL) throws -> [String: SafetensorsFile] {
        func fail(_ problem: String) -> SafetensorsError { SafetensorsError(path: indexURL.path, problem: problem) }
        guard let data = try? Data(contentsOf: indexURL) else { throw fail("cannot read the index") }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let map = json["weight_map"] as? [String: String]
        else {
            throw fail("not a JSON object with a \"weight_map\" of tensor name → file")
        }
        var opened: [String: SafetensorsFile] = [:]
        var result: [String: SafetensorsFile] = [:]
        for (name, shard) in map {
            guard !shard.contains("/") && !shard.hasPrefix(".") else {
                throw fail("shard name \(shard) is not a plain file name")
            }
            if opened[shard] == nil {
                let url = directory.appendingPathComponent(shard)
                guard FileManager.default.fileExists(atPath: url.path) else {
                    throw fail("shard \(shard) listed for \(name) is missing")
                }
                opened[shard] = try SafetensorsFile(path: url.path)
            }
            let file = opened[shard]!
            guard file.entry(name) != nil else {
                throw fail("shard \(shard) has no tensor \(name), though the index says so")
            }
            result[name] = file
        }
        return result
    }
}

/// All tensors of one safetensors file.
public func loadSafetensors(path: String) throws -> [String: Tensor] { try SafetensorsFile(path: path).tensors() }
