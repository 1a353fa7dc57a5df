import Foundation
import XCTest
@testable import VLImaging

final class PNGWritingTests: XCTestCase {
    private func pattern(width: Int, height: Int) -> RGBImage {
        RGBImage(
            width: width, height: height,
            pixels: (0..<(width * height * 3)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ $0 / 7) })
    }

    func testEncodedPNGDecodesToTheSamePixels() throws {
        for (w, h) in [(1, 1), (3, 5), (17, 9), (64, 64)] {
            let image = pattern(width: w, height: h)
            XCTAssertEqual(try RGBImage(data: image.pngData()), image, "\(w)×\(h)")
        }
    }

    func testWritePNGReplacesTheFileAtomically() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-png-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("out.png")
        try pattern(width: 4, height: 4).writePNG(to: url)
        try pattern(width: 7, height: 3).writePNG(to: url)
        XCTAssertEqual(try RGBImage(contentsOf: url), pattern(width: 7, height: 3))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["out.png"])
    }

    func testWritingIntoAMissingFolderFailsClearlyAndLeavesNoFile() {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vlkit-missing-\(UUID().uuidString)")
        let url = folder.appendingPathComponent("out.png")
        XCTAssertThrowsError(try pattern(width: 2, height: 2).writePNG(to: url)) { error in
            XCTAssertEqual("\(error)", "\(url.path): cannot write: no folder \(folder.path)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.path))
    }
}
