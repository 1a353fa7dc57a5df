import Foundation
import XCTest

/// `vlkit train RECIPE.yaml`: the same recipes as JSON, and a malformed file named with its line.
final class YAMLRecipeCommandTests: XCTestCase {
    func testAYAMLRecipeTrainsAndABrokenOneIsNamed() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-yaml-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let recipe = folder.appendingPathComponent("lm.yaml")
        try Data(
            "recipe: language-model\noutput: lm\nworld:\n  train_scenes: 16\ntraining:\n  steps: 2\n  batch_size: 4\n"
                .utf8
        ).write(to: recipe)
        let r = try vlkit(["train", recipe.path, "--set", "training.warmup_steps=0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "trained language-model: \(folder.appendingPathComponent("lm").path)\n")

        let broken = folder.appendingPathComponent("broken.yml")
        try Data("recipe: clip\noutput: x\ntraining: {steps: 2\n".utf8).write(to: broken)
        try assertFails(["train", broken.path], saying: "\(broken.path): not valid YAML: 4:")
    }
}
