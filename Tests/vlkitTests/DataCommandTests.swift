import Foundation
import XCTest

/// `vlkit data synth` as a user runs it.
final class DataCommandTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-synth-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func testSynthWritesTheWorldInTheStandardFormats() throws {
        let out = folder.appendingPathComponent("world").path
        let r = try vlkit([
            "data", "synth", "--out", out, "--count", "12", "--seed", "4", "--split", "compositional", "--image-size",
            "32",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("wrote 12 compositional scenes to \(out)"), r.stdout)
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        XCTAssertEqual(files, ["captions.jsonl", "images", "llava.json", "questions.jsonl"])
        let images = try FileManager.default.contentsOfDirectory(atPath: out + "/images")
        XCTAssertEqual(Set(images), Set((0..<12).map { "compositional-\($0).png" }))

        let captionLines = try String(contentsOfFile: out + "/captions.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(captionLines.count, 12)
        let first = try JSONSerialization.jsonObject(with: Data(captionLines[0].utf8)) as! [String: Any]
        XCTAssertEqual(first["image"] as? String, "images/compositional-0.png")
        let llava =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/llava.json")))
            as! [[String: Any]]
        let turns = llava[0]["conversations"] as! [[String: String]]
        XCTAssertEqual(turns[0], ["from": "human", "value": "<image>\ndescribe the image ."])
        XCTAssertEqual(turns[1], ["from": "gpt", "value": first["caption"] as! String])
        let question = try String(contentsOfFile: out + "/questions.jsonl", encoding: .utf8).split(separator: "\n")[0]
        let q = try JSONSerialization.jsonObject(with: Data(question.utf8)) as! [String: String]
        XCTAssertEqual(Set(q.keys), ["image", "question", "answer", "type"])

        let again = try vlkit([
            "data", "synth", "--out", out, "--count", "12", "--seed", "4", "--split", "compositional", "--image-size",
            "32",
        ])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(
            try Data(contentsOf: URL(fileURLWithPath: out + "/llava.json")),
            try JSONSerialization.data(
                withJSONObject: llava, options: [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted])
                + Data("\n".utf8))
    }

    func testSynthRefusesBadArguments() throws {
        let out = folder.appendingPathComponent("x").path
        try assertFails(["data", "synth", "--out", out, "--count", "0"], saying: "--count must be at least 1")
        try assertFails(["data", "synth", "--out", out, "--count=-3"], saying: "--count must be at least 1")
        try assertFails(["data", "synth", "--out", out, "--count", "2", "--split", "holdout"], saying: "holdout")
        try assertFails(
            ["data", "synth", "--out", out, "--count", "2", "--image-size", "4"],
            saying: "--image-size must be in 16…512")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        try assertFails(
            ["data", "synth", "--out", file.appendingPathComponent("inside").path, "--count", "2"],
            saying: "a-file: is a file, not a folder")
        try assertFails(
            ["data", "synth", "--out", "/proc/vlkit-synth", "--count", "2"], saying: "cannot create the folder")
    }
}
