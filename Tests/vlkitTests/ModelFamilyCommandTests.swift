import Foundation
import XCTest

/// `vlkit eval` on the retrieval families (BLIP-2 stage 1, ALBEF) and `vlkit generate` on the
/// minigpt4 recipe's directory, end to end on tiny settings.
final class ModelFamilyCommandTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-families-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    /// Trains `json` (a recipe) with tiny settings.
    func train(_ name: String, _ json: String) throws {
        let url = folder.appendingPathComponent("\(name).json")
        try Data(json.utf8).write(to: url)
        let r = try vlkit([
            "train", url.path, "--set", "world.train_scenes=24", "--set", "world.test_scenes=8", "--set",
            "training.steps=2", "--set", "training.batch_size=4",
            "--set", "training.warmup_steps=0",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func synthesise(_ count: Int) throws -> String {
        let data = folder.appendingPathComponent("data").path
        XCTAssertEqual(try vlkit(["data", "synth", "--out", data, "--count", "\(count)", "--split", "test"]).status, 0)
        return data
    }

    func assertRetrievalScores(_ model: String, data: String, file: StaticString = #filePath, line: UInt = #line) throws
    {
        let path = folder.appendingPathComponent(model).path
        let json = try vlkit(["eval", "--model", path, "--data", data, "--json"])
        XCTAssertEqual(json.status, 0, json.stderr, file: file, line: line)
        let scores = (try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) as? [String: Any] ?? [:]
        for direction in ["image_to_text", "text_to_image"] {
            let recall = scores[direction] as? [String: Double] ?? [:]
            XCTAssertEqual(
                recall.keys.sorted(), ["r1", "r10", "r5"], "\(direction): \(json.stdout)", file: file, line: line)
            XCTAssertTrue(recall.values.allSatisfy { (0...1).contains($0) }, "\(recall)", file: file, line: line)
        }
        XCTAssertEqual(scores["retrieval_images"] as? Int, 12, file: file, line: line)
        let text = try vlkit(["eval", "--model", path, "--data", data])
        XCTAssertEqual(text.status, 0, text.stderr, file: file, line: line)
        XCTAssertTrue(
            text.stdout.contains("image_to_text: ") && text.stdout.contains("r10"), text.stdout, file: file, line: line)
        try assertFails(
            ["eval", "--model", path, "--data", folder.appendingPathComponent("nothing").path],
            saying: "no questions.jsonl or captions.jsonl", file: file, line: line)
    }

    func testEvalScoresBlip2StageOneAndALBEFRetrieval() throws {
        try train("vision", #"{"recipe": "blip2-vision", "output": "vision"}"#)
        try train("s1", #"{"recipe": "blip2-stage1", "output": "s1", "vision": "vision"}"#)
        try train("albef", #"{"recipe": "albef", "output": "albef", "evaluation": {"test_scenes": 4}}"#)
        let data = try synthesise(12)
        try assertRetrievalScores("s1", data: data)
        try assertRetrievalScores("albef", data: data)
    }

    /// The recipe's MiniGPT-4 directory opens with `vlkit generate` and answers in its prompt format.
    func testGenerateAnswersFromAMiniGPT4Directory() throws {
        try train("lm", #"{"recipe": "language-model", "output": "lm"}"#)
        try train("vision", #"{"recipe": "blip2-vision", "output": "vision"}"#)
        try train("s1", #"{"recipe": "blip2-stage1", "output": "s1", "vision": "vision"}"#)
        try train("s2", #"{"recipe": "blip2-stage2", "output": "s2", "model": "s1", "language_model": "lm"}"#)
        try train("minigpt4", #"{"recipe": "minigpt4", "output": "minigpt4", "model": "s2", "language_model": "lm"}"#)
        let data = try synthesise(1)
        let image = try FileManager.default.contentsOfDirectory(atPath: data + "/images").sorted()[0]
        let r = try vlkit([
            "generate", "--model", folder.appendingPathComponent("minigpt4").path, "--image", data + "/images/" + image,
            "--prompt", "what color is the circle ?", "--max-tokens", "4", "--json",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\"tokens\""), r.stdout)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("minigpt4/language_model"))
        try assertFails(
            ["generate", "--model", folder.appendingPathComponent("minigpt4").path, "--prompt", "hi"],
            saying: "\"language_model\" is")
    }
}
