import XCTest
final class VLNNPlaceholderTests: XCTestCase { func testNothingYet() {} }
