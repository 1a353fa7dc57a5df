import XCTest
@testable import VLTraining

final class SceneTests: XCTestCase {
    func testRenderDrawsEachShapeInItsColourOverANoisyBackground() {
        let circle = SceneObject(shape: .circle, color: .red, size: .large, x: 16, y: 16, radius: 8)
        let triangle = SceneObject(shape: .triangle, color: .blue, size: .small, x: 48, y: 48, radius: 6)
        let image = Scene(objects: [circle, triangle], noiseSeed: 7, imageSize: 64).render()
        func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(image.pixels[(3 * (y * 64 + x))..<(3 * (y * 64 + x) + 3)]) }
        XCTAssertEqual(pixel(16, 16), [220, 40, 40])
        XCTAssertEqual(pixel(48, 53), [40, 70, 220])  // near the triangle's base
        XCTAssertNotEqual(pixel(43, 43), [40, 70, 220])  // outside its slanted side, inside the bounding box
        let background = pixel(2, 60)
        XCTAssertTrue(background[0] >= 200 && background[0] < 240 && background[0] == background[1])
    }
}
