import Foundation
import XCTest

/// The `flamingo` recipe through `vlkit train` on a tiny world, then `vlkit generate` with an
/// interleaved few-shot prompt on its directory, and the command's bad input.
final class FlamingoCommandTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-flamingo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    func train(_ name: String, _ json: String) throws {
        let url = folder.appendingPathComponent(name)
        try Data(json.utf8).write(to: url)
        let r = try vlkit([
            "train", url.path, "--set", "world.train_scenes=32", "--set", "training.steps=3", "--set",
            "training.batch_size=4",
            "--set", "training.warmup_steps=0", "--set", "evaluation.test_scenes=2",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testTheRecipeTrainsAndItsDirectoryGeneratesFromAFewShotPrompt() throws {
        try train("clip.json", #"{"recipe": "clip", "output": "clip"}"#)
        try train("lm.json", #"{"recipe": "language-model", "output": "lm"}"#)
        try train(
            "flamingo.json", #"{"recipe": "flamingo", "output": "flamingo", "vision": "clip", "language_model": "lm"}"#)
        let model = folder.appendingPathComponent("flamingo")
        let scores =
            try JSONSerialization.jsonObject(with: Data(contentsOf: model.appendingPathComponent("evaluation.json")))
            as! [[String: Any]]
        XCTAssertEqual(scores.map { $0["shots"] as? Int }, [0, 2])

        let data = folder.appendingPathComponent("data")
        XCTAssertEqual(try vlkit(["data", "synth", "--out", data.path, "--count", "2", "--split", "test"]).status, 0)
        let images = try FileManager.default.subpathsOfDirectory(atPath: data.path).filter { $0.hasSuffix(".png") }
            .sorted()
            .map { data.appendingPathComponent($0).path }
        XCTAssertEqual(images.count, 2)
        let prompt = "<image>a red circle .<|endofchunk|><image>"
        let r = try vlkit([
            "generate", "--model", model.path, "--image", images[0], "--image", images[1], "--raw", "--prompt", prompt,
            "--max-tokens", "4", "--json",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertNotNil(
            (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["tokens"] as? [Int])

        try assertFails(
            ["generate", "--model", model.path, "--image", images[0], "--raw", "--prompt", prompt],
            saying: "2 <image> marker(s) for 1 image(s)")
        try assertFails(
            ["generate", "--model", folder.appendingPathComponent("nothing").path, "--raw", "--prompt", prompt],
            saying: "no such model directory")
        let models = try vlkit(["models"])
        XCTAssertTrue(models.stdout.contains("flamingo"), models.stdout)
    }
}
