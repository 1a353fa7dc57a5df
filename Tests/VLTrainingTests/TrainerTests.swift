import Foundation
import VLModels
import VLNN
import VLTensor
import XCTest
@testable import VLTraining

/// Stands for the process dying: the trainer's loop is left by an error.
struct Interrupted: Error {}

final class TrainerTests: XCTestCase {
    var directory: URL!

    override func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-trainer-\(UUID().uuidString)")
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func tinyLanguageModel() throws -> LlamaForCausalLM {
        GlobalRandom.seed(3)
        var c = LanguageModelPretraining.worldConfig(vocabSize: 30, hidden: 32, layers: 2)
        c.intermediateSize = 48
        return try LlamaForCausalLM(c)
    }

    /// Random sequences; the batch drawn depends on the trainer's generator, so a resumed run must
    /// restore it to draw the same batches.
    let examples = (0..<20).map { i in
        TokenizedExample(ids: (0..<8).map { (i * 7 + $0 * 3) % 30 }, trained: (0..<8).map { $0 >= 2 })
    }

    func settings(steps: Int) -> TrainingSettings {
        var s = TrainingSettings(steps: steps, batchSize: 4, learningRate: 1e-2, warmupSteps: 2)
        s.checkpointEvery = 3
        s.accumulation = 2
        return s
    }

    func testResumingContinuesTheSameLossCurveBitForBit() throws {
        let reference = try tinyLanguageModel()
        let uninterrupted = Trainer(model: reference, settings: settings(steps: 8))
        try LanguageModelPretraining.train(reference, examples: examples, padId: 0, trainer: uninterrupted)

        // The same run dies during step 8 (after its checkpoint at step 6), then a new process's
        // objects resume it.
        let first = try tinyLanguageModel()
        let stopped = Trainer(model: first, settings: settings(steps: 8))
        stopped.checkpointDirectory = directory
        stopped.onStep = { if $0.step == 7 { throw Interrupted() } }
        XCTAssertThrowsError(try LanguageModelPretraining.train(first, examples: examples, padId: 0, trainer: stopped))
        let second = try tinyLanguageModel()
        let resumed = Trainer(model: second, settings: settings(steps: 8))
        XCTAssertTrue(try resumed.resume(from: directory))
        XCTAssertEqual(resumed.step, 6)
        try LanguageModelPretraining.train(second, examples: examples, padId: 0, trainer: resumed)

        XCTAssertEqual(resumed.history.map(\.loss), uninterrupted.history.map(\.loss))
        XCTAssertLessThan(uninterrupted.history.last!.loss, uninterrupted.history.first!.loss)
        for ((name, a), (_, b)) in zip(reference.namedParameters(), second.namedParameters()) {
            XCTAssertEqual(a.value.toArray(), b.value.toArray(), name)
        }
    }

    func testOnlyTheLastTwoCheckpointsAreKept() throws {
        let model = try tinyLanguageModel()
        let trainer = Trainer(model: model, settings: settings(steps: 9))
        trainer.checkpointDirectory = directory
        try LanguageModelPretraining.train(model, examples: examples, padId: 0, trainer: trainer)
        XCTAssertEqual(Trainer.checkpoints(in: directory).map(\.lastPathComponent), ["step-000006", "step-000009"])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            $0.contains("partial")
        }
        XCTAssertEqual(leftovers, [])
    }

    func testADamagedCheckpointIsRefusedAndChangesNothing() throws {
        let model = try tinyLanguageModel()
        let trainer = Trainer(model: model, settings: settings(steps: 6))
        trainer.checkpointDirectory = directory
        try LanguageModelPretraining.train(model, examples: examples, padId: 0, trainer: trainer)
        let newest = Trainer.checkpoints(in: directory).last!
        let weights = newest.appendingPathComponent("weights.safetensors")
        let data = try Data(contentsOf: weights)
        try data.prefix(data.count / 2).write(to: weights)

        let fresh = try tinyLanguageModel()
        let before = fresh.namedParameters().map { $0.1.value.toArray() }
        let other = Trainer(model: fresh, settings: settings(steps: 6))
        XCTAssertThrowsError(try other.resume(from: directory)) { error in
            XCTAssertTrue("\(error)".contains("weights.safetensors"), "\(error)")
        }
        XCTAssertEqual(other.step, 0)
        XCTAssertEqual(fresh.namedParameters().map { $0.1.value.toArray() }, before)
        XCTAssertEqual(Trainer.checkpoints(in: directory).count, 2, "the previous checkpoint is kept")
    }

    func testAStateFileThatIsNotJSONIsNamedInTheError() throws {
        let model = try tinyLanguageModel()
        let trainer = Trainer(model: model, settings: settings(steps: 3))
        trainer.checkpointDirectory = directory
        try LanguageModelPretraining.train(model, examples: examples, padId: 0, trainer: trainer)
        let state = Trainer.checkpoints(in: directory).last!.appendingPathComponent("trainer_state.json")
        try Data("{\"step\": ".utf8).write(to: state)
        XCTAssertThrowsError(try Trainer(model: model, settings: settings(steps: 3)).resume(from: directory)) { error in
            XCTAssertTrue("\(error)".contains("trainer_state.json"), "\(error)")
        }
    }

    func testResumeWithoutCheckpointsStartsFresh() throws {
        let trainer = Trainer(model: try tinyLanguageModel(), settings: settings(steps: 3))
        XCTAssertFalse(try trainer.resume(from: directory))
        XCTAssertEqual(trainer.step, 0)
    }
}
