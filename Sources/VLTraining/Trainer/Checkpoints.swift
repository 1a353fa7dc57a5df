import Foundation
import VLFiles
import VLIO
import VLNN
import VLTensor

/// A checkpoint that cannot be used, naming the file and what is wrong with it.
public struct CheckpointError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// What a checkpoint holds besides tensors.
struct TrainerState: Codable {
    var step: Int
    var optimizerStep: Int
    /// The generator's words as hexadecimal (JSON numbers cannot hold 64 bits exactly).
    var rng: [String]
    var history: [StepRecord]
}

extension Trainer {
    static let stateFile = "trainer_state.json"
    static let weightsFile = "weights.safetensors"
    static let optimizerFile = "optimizer.safetensors"

    /// Writes `step-NNNNNN/` under `directory`: into a temporary folder first, renamed once complete,
    /// so a crash never leaves a half-written checkpoint under a real name. Older checkpoints but
    /// the previous one are then removed.
    public func saveCheckpoint(in directory: URL) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let name = String(format: "step-%06d", step)
        let temporary = directory.appendingPathComponent(
            ".\(name).partial-\(ProcessInfo.processInfo.processIdentifier)")
        try? fm.removeItem(at: temporary)
        try fm.createDirectory(at: temporary, withIntermediateDirectories: true)
        var weights: [String: Tensor] = [:], moments: [String: Tensor] = [:]
        for (key, p) in parameters {
            weights[key] = p.value
            if let (m, v) = optimizer.state(of: p) {
                (moments[key + ".exp_avg"], moments[key + ".exp_avg_sq"]) = (m, v)
            }
        }
        try writeSafetensors(
            weights, metadata: ["format": "pt"], to: temporary.appendingPathComponent(Trainer.weightsFile))
        try writeSafetensors(moments, to: temporary.appendingPathComponent(Trainer.optimizerFile))
        let state = TrainerState(
            step: step, optimizerStep: optimizer.stepCount, rng: rng.state.map { String($0, radix: 16) },
            history: history)
        try writeAtomically(try JSONEncoder().encode(state), to: temporary.appendingPathComponent(Trainer.stateFile))
        let final = directory.appendingPathComponent(name)
        try? fm.removeItem(at: final)
        try fm.moveItem(at: temporary, to: final)
        for old in Trainer.checkpoints(in: directory).dropLast(2) { try? fm.removeItem(at: old) }
    }

    /// Complete checkpoints under `directory`, oldest first.
    public static func checkpoints(in directory: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasPrefix("step-") }.sorted().map { directory.appendingPathComponent($0) }
    }

    /// Restores the newest checkpoint under `directory`: weights, optimiser moments, step, generator
    /// and history. Returns false when there is none. A damaged checkpoint is refused with an error
    /// naming the file; nothing is changed then.
    @discardableResult
    public func resume(from directory: URL) throws -> Bool {
        guard let newest = Trainer.checkpoints(in: directory).last else { return false }
        let stateURL = newest.appendingPathComponent(Trainer.stateFile)
        guard let data = FileManager.default.contents(atPath: stateURL.path) else {
            throw CheckpointError(
                "\(stateURL.path): missing (the checkpoint is incomplete; remove \(newest.lastPathComponent) to resume from the one before)"
            )
        }
        let state: TrainerState
        do { state = try JSONDecoder().decode(TrainerState.self, from: data) } catch {
            throw CheckpointError("\(stateURL.path): not a trainer state (\(error))")
        }
        let words = state.rng.compactMap { UInt64($0, radix: 16) }
        guard words.count == state.rng.count, words.count == 4 || words.count == 5 else {
            throw CheckpointError("\(stateURL.path): the random generator state is damaged")
        }
        let weights = try readTensors(newest.appendingPathComponent(Trainer.weightsFile))
        let moments = try readTensors(newest.appendingPathComponent(Trainer.optimizerFile))
        let expected = Set(parameters.map(\.0))
        guard Set(weights.keys) == expected else {
            let missing = expected.subtracting(weights.keys).sorted().prefix(5),
                extra = Set(weights.keys).subtracting(expected).sorted().prefix(5)
            throw CheckpointError(
                "\(newest.path): its trainable parameters do not match the model's (missing: \(missing.joined(separator: ", ")); "
                    + "unexpected: \(extra.joined(separator: ", ")))")
        }
        for (key, p) in parameters where weights[key]!.shape != p.shape {
            throw CheckpointError("\(newest.path): \(key) has shape \(weights[key]!.shape), the model \(p.shape)")
        }
        // Everything is checked; only now is the trainer changed.
        for (key, p) in parameters {
            p.value = weights[key]!
            if let m = moments[key + ".exp_avg"], let v = moments[key + ".exp_avg_sq"] {
                optimizer.setState(of: p, m: m, v: v, step: state.optimizerStep)
            }
        }
        step = state.step
        history = state.history
        rng.state = words
        return true
    }

    private func readTensors(_ url: URL) throws -> [String: Tensor] {
        do {
            let file = try SafetensorsFile(path: url.path)
            return try Dictionary(uniqueKeysWithValues: file.names.map { ($0, try file.tensor($0).to(.f32).clone()) })
        } catch {
            throw CheckpointError("\(url.path): \(error)")
        }
    }
}
