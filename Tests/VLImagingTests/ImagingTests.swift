import Foundation
import VLFiles
import XCTest
import VLIO
import VLTensor
@testable import VLImaging

/// Decoding, Pillow resizing and the CLIP processor against Pillow and transformers
/// (tools/fixtures/make_image_fixtures.py).
final class ImagingTests: XCTestCase {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/images")

    func bytes(_ t: Tensor) -> [UInt8] { t.toArray().map { UInt8($0) } }

    func testDecodingMatchesPillow() throws {
        let expected = try loadSafetensors(path: Self.dir.appendingPathComponent("decoded.safetensors").path)
        XCTAssertGreaterThanOrEqual(expected.count, 22)
        for (name, pixels) in expected.sorted(by: { $0.key < $1.key }) {
            let image = try RGBImage(contentsOf: Self.dir.appendingPathComponent(name))
            XCTAssertEqual([image.height, image.width, 3], pixels.shape, "\(name): size")
            guard [image.height, image.width, 3] == pixels.shape else { continue }
            let want = bytes(pixels)
            let maxDiff = zip(image.pixels, want).map { abs(Int($0) - Int($1)) }.max() ?? 0
            XCTAssertEqual(maxDiff, 0, "\(name): pixels differ from Pillow by up to \(maxDiff)")
        }
    }

    func testResizeIsPillowExact() throws {
        let expected = try loadSafetensors(path: Self.dir.appendingPathComponent("resized.safetensors").path)
        let source = try RGBImage(contentsOf: Self.dir.appendingPathComponent("source64x48.png"))
        for (name, pixels) in expected {
            let parts = name.split(separator: "_"), dims = parts[1].split(separator: "x").map { Int($0)! }
            let filter: ResampleFilter = parts[0] == "bicubic" ? .bicubic : .bilinear
            let out = source.resized(width: dims[0], height: dims[1], filter: filter)
            XCTAssertEqual(out.pixels, bytes(pixels), "\(name)")
        }
    }

    func testCLIPProcessorMatchesTransformers() throws {
        let expected = try loadSafetensors(path: Self.dir.appendingPathComponent("processed.safetensors").path)
        XCTAssertEqual(expected.count, 8)
        for (key, want) in expected {
            let parts = key.split(separator: "/")
            let config = try ConfigReader(contentsOf: Self.dir.appendingPathComponent("preprocessor_\(parts[0]).json"))
            let processor = try ImageProcessor(config)
            let out = processor(try RGBImage(contentsOf: Self.dir.appendingPathComponent(String(parts[1]))))
            XCTAssertEqual(out.shape, want.shape, key)
            let diff = zip(out.toArray(), want.toArray()).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(diff, 1e-6, "\(key): max abs diff \(diff)")
        }
    }

    func testBadImagesAreRefusedWithTheirProblem() throws {
        func fails(_ name: String, _ text: String, maxPixels: Int = RGBImage.defaultMaxPixels, line: UInt = #line) {
            XCTAssertThrowsError(
                try RGBImage(contentsOf: Self.dir.appendingPathComponent(name), maxPixels: maxPixels), line: line
            ) {
                XCTAssertTrue("\($0)".contains(text), "\"\($0)\" does not say \"\(text)\"", line: line)
                XCTAssertTrue("\($0)".contains(name), "the error does not name the file", line: line)
            }
        }
        fails("not_an_image.jpg", "not a JPEG or PNG")
        fails("truncated.jpg", "corrupt JPEG")
        fails("truncated.png", "corrupt PNG")
        fails("zero_size.png", "corrupt PNG")
        fails("missing.png", "no such file")
        let start = Date()
        fails("huge.png", "100000×100000 pixels exceed the limit")
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.5, "the limit must be checked before decoding")
        fails("rgb.png", "40×30 pixels exceed the limit of 1000", maxPixels: 1000)
        XCTAssertThrowsError(try RGBImage(data: Data())) { XCTAssertTrue("\($0)".contains("empty")) }
        XCTAssertEqual(
            try RGBImage.size(of: Data(contentsOf: Self.dir.appendingPathComponent("huge.png"))).width, 100000)
    }
}
