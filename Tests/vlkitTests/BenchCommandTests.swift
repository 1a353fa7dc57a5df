import Foundation
import XCTest

/// Runs the built `vlkit-bench` binary (the benchmarks are their own executable, not a `vlkit` subcommand).
final class BenchCommandTests: XCTestCase {
    static let binary = CLITests.binary.deletingLastPathComponent().appendingPathComponent("vlkit-bench")

    func testBadOptionsAreOneClearError() throws {
        try assertFails(["--repeat", "0"], binary: Self.binary, saying: "--repeat must be at least 1")
        try assertFails(
            ["--only", "no-such-case"], binary: Self.binary, saying: "no benchmark matches --only no-such-case")
    }
}
