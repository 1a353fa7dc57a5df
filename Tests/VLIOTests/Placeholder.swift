import XCTest
final class VLIOPlaceholderTests: XCTestCase { func testNothingYet() {} }
