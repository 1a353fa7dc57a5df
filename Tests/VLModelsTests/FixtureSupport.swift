import Foundation
import XCTest
import VLIO
import VLTensor

/// Tests/Fixtures, written by tools/fixtures/*.py.
let fixturesRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

func fixtureDirectory(_ family: String, _ name: String) -> URL {
    fixturesRoot.appendingPathComponent(family).appendingPathComponent(name)
}

func reference(_ family: String, _ name: String) throws -> [String: Tensor] {
    try loadSafetensors(path: fixtureDirectory(family, name).appendingPathComponent("reference.safetensors").path)
}

/// Asserts max |a − b| ≤ tol · max(1, max |b|) and the shapes agree.
func assertClose(_ a: Tensor, _ b: Tensor, tol: Float = 1e-4, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, "\(what): shape", file: file, line: line)
    guard a.shape == b.shape else { return }
    let x = a.toArray(), y = b.toArray()
    let scale = max(1, y.map { abs($0) }.max() ?? 0)
    let diff = zip(x, y).map { abs($0 - $1) }.max() ?? 0
    XCTAssertLessThanOrEqual(diff, tol * scale, "\(what): max abs diff \(diff) (scale \(scale))", file: file, line: line)
}
