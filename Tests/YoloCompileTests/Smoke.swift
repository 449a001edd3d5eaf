import XCTest
import YoloCompile
final class SmokeTests: XCTestCase { func testNothing() {} }
