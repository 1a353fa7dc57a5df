import Foundation
import XCTest

/// `vlkit train`, `vlkit eval` and `vlkit demo` end to end on tiny settings, and their bad input.
final class TrainCommandTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    func write(_ name: String, _ json: String) throws -> String {
        let url = folder.appendingPathComponent(name)
        try Data(json.utf8).write(to: url)
        return url.path
    }

    let tiny =
        "--set world.train_scenes=24 --set training.steps=2 --set training.batch_size=4 --set training.warmup_steps=0"

    func train(_ recipe: String, extra: [String] = []) throws -> VLKitRun {
        try vlkit(["train", recipe] + tiny.split(separator: " ").map(String.init) + extra)
    }

    func testTheRecipeChainTrainsEveryStageAndEvalScoresTheResult() throws {
        let clip = try write("clip.json", #"{"recipe": "clip", "output": "clip"}"#)
        let lm = try write(
            "lm.json", #"{"recipe": "language-model", "output": "lm", "training": {"checkpoint_every": 1}}"#)
        let s1 = try write(
            "s1.json", #"{"recipe": "llava-stage1", "output": "s1", "vision": "clip", "language_model": "lm"}"#)
        let s2 = try write(
            "s2.json",
            #"{"recipe": "llava-stage2", "output": "s2", "model": "s1", "lora": {"r": 2, "target_modules": ["q_proj", "v_proj"]}}"#
        )
        for recipe in [clip, lm, s1, s2] {
            let r = try train(recipe)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.hasPrefix("trained "), r.stdout)
        }
        XCTAssertTrue(
            FileManager.default.fileExists(
                atPath: folder.appendingPathComponent("lm/checkpoints/step-000002/weights.safetensors").path))
        let adapter = folder.appendingPathComponent("s2/adapter")
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: adapter.appendingPathComponent("adapter_model.safetensors").path))
        let config =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: adapter.appendingPathComponent("adapter_config.json"))) as! [String: Any]
        XCTAssertEqual(config["peft_type"] as? String, "LORA")

        // Resuming a finished run finds its last checkpoint and trains nothing more.
        let resumed = try train(lm, extra: ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resumed at step 2"), resumed.stderr)

        let data = folder.appendingPathComponent("data").path
        XCTAssertEqual(try vlkit(["data", "synth", "--out", data, "--count", "3", "--split", "test"]).status, 0)
        let eval = try vlkit([
            "eval", "--model", folder.appendingPathComponent("s2").path, "--data", data, "--json", "--caption-limit",
            "2",
        ])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        let scores = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as! [String: Any]
        XCTAssertNotNil(scores["vqa_accuracy"] as? Double)
        XCTAssertNotNil(scores["cider"] as? Double)
        let clipEval = try vlkit([
            "eval", "--model", folder.appendingPathComponent("clip").path, "--data", data, "--json",
        ])
        XCTAssertEqual(clipEval.status, 0, clipEval.stderr)
        XCTAssertTrue(clipEval.stdout.contains("text_to_image"), clipEval.stdout)
    }

    func testBadRecipesAreNamedInOneErrorLine() throws {
        try assertFails(["train", folder.appendingPathComponent("none.json").path], saying: "no such recipe file")
        try assertFails(["train", try write("a.json", "[1, 2")], saying: "not a JSON object")
        try assertFails(["train", try write("b.json", #"{"output": "x"}"#)], saying: "\"recipe\" is missing")
        try assertFails(
            ["train", try write("c.json", #"{"recipe": "dalle", "output": "x"}"#)], saying: "\"recipe\" is not valid")
        try assertFails(
            ["train", try write("d.json", #"{"recipe": "clip", "output": "x", "training": {"steps": "many"}}"#)],
            saying: "\"training.steps\" has the wrong type")
        try assertFails(
            ["train", try write("e.json", #"{"recipe": "llava-stage2", "output": "x"}"#)],
            saying: "llava-stage2 needs \"model\"")
        try assertFails(
            ["train", try write("f.json", #"{"recipe": "clip", "output": "x"}"#), "--set", "=3"],
            saying: "expected key=value")
        try assertFails(
            ["eval", "--model", folder.path, "--data", folder.path], saying: "no questions.jsonl or captions.jsonl")
    }

    func testDemoRunsEndToEndAndReportsJSON() throws {
        let out = folder.appendingPathComponent("demo").path
        let report = folder.appendingPathComponent("report").path
        let r = try vlkit([
            "demo", "--out", out, "--train-scenes", "40", "--test-scenes", "4", "--step-scale", "0.02", "--json",
            "--report", report,
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let metrics = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        for key in [
            "vqa_accuracy", "vqa_chance", "zero_shot_accuracy", "zero_shot_chance", "retrieval_r1", "bleu4", "cider",
            "seconds",
        ] {
            XCTAssertNotNil(metrics[key], key)
        }
        let html = try String(contentsOfFile: report + "/index.html", encoding: .utf8)
        XCTAssertTrue(html.contains("data:image/png;base64"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/llava/model.safetensors"))
        try assertFails(["demo", "--step-scale", "0"], saying: "--step-scale")
    }

    func testConnectorComparisonAndVPGTransferRunEndToEnd() throws {
        let tiny = ["--train-scenes", "40", "--test-scenes", "4", "--step-scale", "0.05", "--json"]
        let compare = try vlkit(
            ["demo", "--compare-connectors", "--out", folder.appendingPathComponent("c").path] + tiny)
        XCTAssertEqual(compare.status, 0, compare.stderr)
        let rows =
            (try JSONSerialization.jsonObject(with: Data(compare.stdout.utf8)) as! [String: Any])["connectors"]
            as! [[String: Any]]
        XCTAssertEqual(rows.map { $0["connector"] as? String }, ["linear", "mlp", "qformer", "abstractor", "flamingo"])
        XCTAssertTrue(rows.allSatisfy { ($0["trainable_parameters"] as? Int ?? 0) > 0 && $0["vqa_accuracy"] is Double })
        let vpg = try vlkit(["demo", "--vpg-transfer", "--out", folder.appendingPathComponent("v").path] + tiny)
        XCTAssertEqual(vpg.status, 0, vpg.stderr)
        let result = try JSONSerialization.jsonObject(with: Data(vpg.stdout.utf8)) as! [String: Any]
        for key in ["steps", "scratch_loss", "scratch_vqa_accuracy", "transfer_vqa_accuracy"] {
            XCTAssertNotNil(result[key], key)
        }
    }
}

extension TrainCommandTests {
    /// The ready recipe file, pointed at `vlkit data synth`'s llava.json with `--set`.
    func testARecipeFileTrainsOnALLaVAFileNamedWithSet() throws {
        let clip = try write("clip.json", #"{"recipe": "clip", "output": "clip"}"#)
        let lm = try write("lm.json", #"{"recipe": "language-model", "output": "lm"}"#)
        let s1 = try write(
            "s1.json", #"{"recipe": "llava-stage1", "output": "s1", "vision": "clip", "language_model": "lm"}"#)
        for recipe in [clip, lm, s1] { XCTAssertEqual(try train(recipe).status, 0) }
        let data = folder.appendingPathComponent("synth").path
        XCTAssertEqual(try vlkit(["data", "synth", "--out", data, "--count", "6"]).status, 0)
        let ready = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("recipes/llava-stage2.json").path
        let out = folder.appendingPathComponent("s2")
        let args = [
            "train", ready, "--set", "data.llava_json=\(data)/llava.json", "--set", "training.steps=3", "--set",
            "training.batch_size=4",
            "--set", "training.warmup_steps=0", "--set", "training.checkpoint_every=0",
            "--set", "model=\(folder.appendingPathComponent("s1").path)", "--set", "output=\(out.path)",
        ]
        let r = try vlkit(args + ["--metrics", folder.appendingPathComponent("m.jsonl").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "trained llava-stage2: \(out.path)\n")
        XCTAssertTrue(r.stderr.contains("training on \(data)/llava.json (6 conversations of 6 images)"), r.stderr)
        for file in ["config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), file)
        }
        let lines = try String(contentsOf: folder.appendingPathComponent("m.jsonl"), encoding: .utf8).split(
            separator: "\n")
        XCTAssertEqual(lines.count, 3)

        // Bad data paths: the field and the path in the one error line, nothing trained.
        try assertFails(
            ["train", ready, "--set", "data.llava_json=\(data)/missing.json"],
            saying: "\"data.llava_json\": \(data)/missing.json: no such file")
        try assertFails(
            ["train", ready, "--set", "data.llava_json=\(data)/llava.json", "--set", "data.images=\(data)/nope"],
            saying: "\"data.images\": \(data)/nope: no such folder")
        try assertFails(
            ["train", ready, "--set", "data.llava_json=\(data)/captions.jsonl"],
            saying: "\"data.llava_json\": \(data)/captions.jsonl holds image–caption JSONL, not LLaVA conversation JSON"
        )
        try assertFails(
            ["train", ready, "--set", "data.llava=\(data)/llava.json"], saying: "\"data.llava\" is not a recipe field")
        let clipReady = ready.replacingOccurrences(of: "llava-stage2.json", with: "clip.json")
        try assertFails(
            ["train", clipReady, "--set", "data.llava_json=\(data)/llava.json"],
            saying: "\"data.llava_json\": clip does not train on LLaVA conversation JSON")
    }
}
