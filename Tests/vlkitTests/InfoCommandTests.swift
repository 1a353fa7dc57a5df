import Foundation
import XCTest

@testable import vlkit

/// `vlkit info FILE.gguf`: in process (the command's output as a string), and through the binary once the
/// command is registered in VLKitCommand.swift.
final class InfoCommandTests: XCTestCase {
    static let gguf = CLITests.fixtures.appendingPathComponent("gguf/every_type.gguf").path
    static let notGGUF = CLITests.fixtures.appendingPathComponent("gguf/reference.json").path

    func testShowsMetadataAndTensorsByType() throws {
        let text = try InfoCommand.parse([Self.gguf]).render()
        XCTAssertTrue(text.contains("GGUF version 3, alignment 64"), text)
        XCTAssertTrue(text.contains("* 36 key/value pair(s)"), text)
        XCTAssertTrue(text.contains("      1: STRING     |        1 | general.architecture = \"llama\""), text)
        XCTAssertTrue(
            text.contains("[INT32]    |      100 | test.array.int32 = [-50, -49, -48, -47, -46, -45, … 100 items]"),
            text)
        XCTAssertTrue(text.contains("| test.string = \"héllo wörld — 中文 🦙\\n\\t\\\"quoted\\\"\""), text)
        XCTAssertTrue(text.contains("[[INT32]]  |        3 | test.array.nested = [[1, 2], [3], []]"), text)
        XCTAssertTrue(text.contains("test.array.float32 = [0.5, -1.25, nan, -inf, 1e-40]"), text)
        XCTAssertTrue(text.contains("* 7 tensor(s), 1570 bytes (1.6 kB)"), text)
        XCTAssertTrue(text.contains("  Q4_K        2 tensor(s)            720 bytes"), text)
        XCTAssertFalse(text.contains("cube.f32"), "tensors are listed only with --tensors")
        let listed = try InfoCommand.parse([Self.gguf, "--tensors"]).render()
        XCTAssertTrue(listed.contains("cube.f32     [2, 3, 7]"), listed)
    }

    func testJSON() throws {
        let out = try InfoCommand.parse([Self.gguf, "--json", "--tensors"]).render()
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        XCTAssertEqual(object["version"] as? Int, 3)
        XCTAssertEqual(object["tensor_count"] as? Int, 7)
        XCTAssertEqual(object["tensor_bytes"] as? Int, 1570)
        let types = try XCTUnwrap(object["tensor_types"] as? [String: [String: Int]])
        XCTAssertEqual(types["Q4_K"], ["count": 2, "bytes": 720])
        XCTAssertEqual(types["F32"]?["count"], 2)
        let metadata = try XCTUnwrap(object["metadata"] as? [[String: Any]])
        XCTAssertEqual(metadata.count, 36)
        XCTAssertEqual(metadata.first?["key"] as? String, "general.architecture")
        let ints = try XCTUnwrap(metadata.first { $0["key"] as? String == "test.array.int32" })
        XCTAssertEqual(ints["count"] as? Int, 100)
        XCTAssertEqual(ints["shortened"] as? Bool, true)
        XCTAssertEqual(ints["value"] as? [Int], [-50, -49, -48, -47, -46, -45])
        let floats = try XCTUnwrap(metadata.first { $0["key"] as? String == "test.float64_infinity" })
        XCTAssertEqual(floats["value"] as? String, "inf")
        let tensors = try XCTUnwrap(object["tensors"] as? [[String: Any]])
        XCTAssertEqual(tensors[1]["name"] as? String, "cube.f32")
        XCTAssertEqual(tensors[1]["shape"] as? [Int], [2, 3, 7])
        XCTAssertEqual(tensors[1]["dimensions"] as? [Int], [7, 3, 2])
        XCTAssertEqual(tensors[1]["bytes"] as? Int, 168)
    }

    func testBadFileIsAGGUFError() throws {
        XCTAssertThrowsError(try InfoCommand.parse([Self.notGGUF]).render()) { error in
            // What the binary prints after "Error: ", and its exit status.
            XCTAssertTrue(
                InfoCommand.message(for: error).hasPrefix("\(Self.notGGUF): not a GGUF file: it starts with 7b 0a"),
                InfoCommand.message(for: error))
            XCTAssertEqual(InfoCommand.exitCode(for: error), .failure)
        }
        XCTAssertThrowsError(try InfoCommand.parse(["/nonexistent.gguf"]).render()) { error in
            XCTAssertEqual(
                InfoCommand.message(for: error), "/nonexistent.gguf: cannot open: No such file or directory")
        }
        XCTAssertThrowsError(try InfoCommand.parse(["--tensors"]).render())
    }

    /// Through the binary: registered as `vlkit info`.
    func testBinary() throws {
        let help = try vlkit(["info", "--help"])
        XCTAssertTrue(help.stdout.contains("--tensors"), help.stdout)
        let r = try vlkit(["info", Self.gguf, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["tensor_count"] as? Int, 7)
        try assertFails(["info", Self.notGGUF], saying: "not a GGUF file")
        try assertFails(["info", "/nonexistent.gguf"], saying: "cannot open")
        let machine = try vlkit(["info"])
        XCTAssertEqual(machine.status, 0, machine.stderr)
        XCTAssertTrue(machine.stdout.hasPrefix("kernels: "), machine.stdout)
    }
}
