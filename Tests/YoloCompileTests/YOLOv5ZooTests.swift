import Foundation
import XCTest
import YoloCompile

/// Every model config of YOLOv5 v7.0 (models/, models/hub, models/segment; copies in
/// Fixtures/yolov5-v7.0): each compiles, with the parameter count PyTorch gives for v7.0's own
/// Model(cfg) and the output shape at 320x320 (640 rounded to the P7 model's stride 128: 384).
/// Parity with PyTorch on seeded weights was checked with v7.0's code (at most 6.7e-7 relative on
/// every config); the peer tests run the torch.nn-layer config (yolov3-tiny) through onnxruntime.
final class YOLOv5ZooTests: XCTestCase {
    static let expected: [(String, Int, [Int])] = [
        ("models/yolov5n", 1_872_157, [1, 6300, 85]), ("models/yolov5s", 7_235_389, [1, 6300, 85]),
        ("models/yolov5m", 21_190_557, [1, 6300, 85]), ("models/yolov5l", 46_563_709, [1, 6300, 85]),
        ("models/yolov5x", 86_749_405, [1, 6300, 85]),
        ("hub/yolov3", 61_949_149, [1, 6300, 85]), ("hub/yolov3-spp", 62_998_749, [1, 6300, 85]),
        ("hub/yolov3-tiny", 8_852_366, [1, 1500, 85]), ("hub/yolov5-bifpn", 46_825_853, [1, 6300, 85]),
        ("hub/yolov5-fpn", 41_117_565, [1, 6300, 85]), ("hub/yolov5-p2", 47_493_372, [1, 25500, 85]),
        ("hub/yolov5-p34", 5_331_518, [1, 6000, 85]), ("hub/yolov5-p6", 76_770_172, [1, 6375, 85]),
        ("hub/yolov5-p7", 144_281_723, [1, 9207, 85]), ("hub/yolov5-panet", 46_563_709, [1, 6300, 85]),
        ("hub/yolov5n6", 3_246_940, [1, 6375, 85]), ("hub/yolov5s6", 12_626_620, [1, 6375, 85]),
        ("hub/yolov5m6", 35_731_932, [1, 6375, 85]), ("hub/yolov5l6", 76_770_172, [1, 6375, 85]),
        ("hub/yolov5x6", 140_794_780, [1, 6375, 85]), ("hub/yolov5s-LeakyReLU", 7_235_389, [1, 6300, 85]),
        ("hub/yolov5s-ghost", 3_897_605, [1, 6300, 85]), ("hub/yolov5s-transformer", 7_235_645, [1, 6300, 85]),
        ("segment/yolov5n-seg", 1_991_549, [1, 6300, 117]), ("segment/yolov5s-seg", 7_621_277, [1, 6300, 117]),
        ("segment/yolov5m-seg", 21_990_397, [1, 6300, 117]), ("segment/yolov5l-seg", 47_924_957, [1, 6300, 117]),
        ("segment/yolov5x-seg", 88_819_517, [1, 6300, 117]),
    ]

    func testEveryConfigCompilesWithPyTorchsParameterCount() throws {
        for (name, params, shape) in Self.expected {
            let config = try ConfigParser.parse(file: Repo.fixture("yolov5-v7.0/\(name).yaml"))
            XCTAssertEqual(config.dialect, .yolov5, name)
            // Shapes and counts only: zero weights (the largest configs hold 140M parameters).
            let size = name.hasSuffix("p7") ? 384 : 320
            let lowered = try ModelLowering.lower(config, options: CompileOptions(imageHeight: size, imageWidth: size), parameters: ZeroParameters())
            XCTAssertEqual(lowered.pytorchParameters, params, name)
            XCTAssertEqual(lowered.graph.type(of: lowered.graph.outputs[0]).shape, shape, name)
        }
    }
}
