import Foundation

/// Tests/Fixtures, written by tools/fixtures/*.py.
public let fixturesRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

/// A fixture folder, `Tests/Fixtures/<family>/<name>`.
public func fixtureDirectory(_ family: String, _ name: String) -> URL {
    fixturesRoot.appendingPathComponent(family).appendingPathComponent(name)
}
