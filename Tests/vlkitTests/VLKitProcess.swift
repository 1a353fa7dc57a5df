import Foundation
import XCTest

/// What a run of the `vlkit` binary printed and how it exited.
struct VLKitRun {
    let status: Int32
    let stdout: String
    let stderr: String
}

extension XCTestCase {
    /// Runs the built `vlkit` binary (or another of the package's, e.g. `vlkit-bench`) with `arguments` (and `input` on stdin).
    func vlkit(_ arguments: [String], input: String? = nil, binary: URL = CLITests.binary) throws -> VLKitRun {
        let p = Process()
        p.executableURL = binary
        p.arguments = arguments
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input == nil ? FileHandle.nullDevice : inp
        try p.run()
        if let input {
            inp.fileHandleForWriting.write(input.data(using: .utf8)!)
            try inp.fileHandleForWriting.close()
        }
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return VLKitRun(
            status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
            stderr: String(decoding: e, as: UTF8.self))
    }

    /// A non-zero exit, nothing on stdout, and a first stderr line that contains `text`.
    func assertFails(
        _ arguments: [String], binary: URL = CLITests.binary, saying text: String, file: StaticString = #filePath,
        line: UInt = #line
    ) throws {
        let r = try vlkit(arguments, binary: binary)
        XCTAssertNotEqual(r.status, 0, "exit status", file: file, line: line)
        XCTAssertTrue(
            r.stderr.split(separator: "\n").first.map { $0.contains(text) } ?? false,
            "stderr \"\(r.stderr)\" does not start with a line saying \"\(text)\"", file: file, line: line)
        XCTAssertEqual(r.stdout, "", "nothing on stdout", file: file, line: line)
    }
}
