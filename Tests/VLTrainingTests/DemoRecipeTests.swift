import Foundation
import XCTest
@testable import VLTraining

/// `vlkit demo` runs the ready recipe files for its stages, with its own schedule over them.
final class DemoRecipeTests: XCTestCase {
    func testTheDemosStagesAreTheReadyRecipeFilesWithItsSchedule() throws {
        let folder = try Demo.recipesFolder()
        XCTAssertEqual(
            folder.standardized.path,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("recipes").standardized.path)
        var demo = Demo(outputDirectory: URL(fileURLWithPath: "/tmp/demo-out"))
        demo.options.seed = 3
        demo.options.trainScenes = 123
        let out = URL(fileURLWithPath: "/tmp/demo-out/llava")
        let stage2 = try demo.recipe("llava-stage2.json", demo.options.stage2, ["model": out, "output": out])
        XCTAssertEqual(stage2.recipe, "llava-stage2")
        XCTAssertEqual(stage2.training.applied(to: LlavaStage2Recipe.defaults).steps, demo.options.stage2.steps)
        XCTAssertEqual(stage2.training.warmupSteps, demo.options.stage2.warmupSteps)
        XCTAssertEqual(stage2.training.learningRate, demo.options.stage2.learningRate)
        XCTAssertEqual(stage2.training.checkpointEvery, 0, "the demo writes no checkpoints")
        XCTAssertEqual(stage2.training.seed, 3)
        XCTAssertEqual(stage2.world.trainScenes, 123)
        XCTAssertEqual(stage2.world.seed, 3)
        XCTAssertEqual(stage2.model, out.path)
        XCTAssertEqual(stage2.output, out.path)
        XCTAssertNil(stage2.lora)
        XCTAssertNil(stage2.data, "the demo trains on the world")
        for (file, name) in [
            ("clip.json", "clip"), ("language-model.json", "language-model"), ("llava-stage1.json", "llava-stage1"),
        ] {
            XCTAssertEqual(try demo.recipe(file, demo.options.clip, ["output": out]).recipe.rawValue, name)
        }
    }
}
