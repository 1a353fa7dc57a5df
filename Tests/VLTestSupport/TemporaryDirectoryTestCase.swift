import Foundation
import XCTest

/// A test case with a fresh temporary folder (`directory`), removed after each test.
open class TemporaryDirectoryTestCase: XCTestCase {
    public var directory: URL!

    override open func setUp() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vlkit-\(type(of: self))-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override open func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// Writes `text` to `name` in the folder.
    public func file(_ name: String, _ text: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }
}
