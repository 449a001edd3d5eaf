import Foundation
import XCTest
import YoloCompile

/// The torch.nn layers parse_model evaluates by name: built from the args as PyTorch's constructor
/// takes them (no width scaling), with `ch[f]` as the channels recorded. Values are checked against
/// numpy re-implementations of PyTorch's formulas in Tests/peers/test_zoos.py.
final class TorchLayerTests: XCTestCase {
    /// Compiles `Conv [c1, 1, 1]` then `rows` as a YOLOv5 config at 64x64.
    func layers(c1: Int, _ rows: String..., file: String = "nn") throws -> [LayerInfo] {
        let yaml = "nc: 1\nanchors: 1\nbackbone:\n  [[-1, 1, Conv, [\(c1), 1, 1]],\n" + rows.map { "   " + $0 + ",\n" }.joined() + "  ]\nhead: []\n"
        let c = try Compiler.compile(configFile: temporaryFile(file + ".yaml", contents: yaml), options: CompileOptions(imageHeight: 64, imageWidth: 64))
        return Array(c.lowered.layers.dropFirst())
    }

    func message(c1: Int = 16, _ row: String) -> String? {
        errorText { _ = try self.layers(c1: c1, row, file: "nn-bad") }?.components(separatedBy: ": layer 1: ").last
    }

    func check(_ l: LayerInfo, params: Int, shape: [Int], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(l.parameters, params, l.module, file: file, line: line)
        XCTAssertEqual(l.outputShape, shape, l.module, file: file, line: line)
    }

    /// yolov3-tiny's pattern: MaxPool2d(2, 2, 0), then ZeroPad2d((0, 1, 0, 1)) and MaxPool2d(2, 1, 0) at stride 32.
    func testPoolingAndPadding() throws {
        let l = try layers(c1: 16, "[-1, 1, nn.MaxPool2d, [2, 2, 0]]", "[-1, 1, nn.ZeroPad2d, [[0, 1, 0, 1]]]",
                           "[-1, 1, nn.MaxPool2d, [2, 1, 0]]", "[-1, 1, nn.AvgPool2d, [3, 2, 1]]",
                           "[-1, 1, nn.MaxPool2d, [3, 2, 0, 1, False, True]]", "[-1, 1, nn.AdaptiveAvgPool2d, [[5, 3]]]",
                           "[-1, 1, nn.AdaptiveMaxPool2d, [1]]", file: "pools")
        check(l[0], params: 0, shape: [1, 16, 32, 32])
        check(l[1], params: 0, shape: [1, 16, 33, 33])
        check(l[2], params: 0, shape: [1, 16, 32, 32])
        check(l[3], params: 0, shape: [1, 16, 16, 16])
        check(l[4], params: 0, shape: [1, 16, 8, 8])  // ceil((16 - 3) / 2) + 1 = 8
        check(l[5], params: 0, shape: [1, 16, 5, 3])
        check(l[6], params: 0, shape: [1, 16, 1, 1])
        XCTAssertEqual(l[1].arguments.map(\.description), ["[0, 1, 0, 1]"])
    }

    /// A pair kernel without a stride: the stride is the whole pair, as PyTorch defaults it.
    func testPairKernelDefaultsItsStride() throws {
        check(try layers(c1: 16, "[-1, 1, nn.MaxPool2d, [[2, 1]]]", file: "pair")[0], params: 0, shape: [1, 16, 32, 64])
    }

    func testConvLinearFlattenAndPassThroughLayers() throws {
        let l = try layers(c1: 16, "[-1, 1, nn.Conv2d, [16, 16, 3, 1, 1]]", "[-1, 1, nn.Conv2d, [16, 16, [1, 3], 1, same, 1, 4, False]]",
                           "[-1, 1, nn.BatchNorm2d, []]", "[-1, 2, nn.ReLU, [True]]", "[-1, 1, nn.LeakyReLU, [0.2]]",
                           "[-1, 1, nn.Dropout, [0.1]]", "[-1, 1, nn.Identity, []]", "[-1, 1, nn.AdaptiveAvgPool2d, [1]]",
                           "[-1, 1, nn.Flatten, []]", "[-1, 1, nn.Linear, [16, 10]]", file: "convlinear")
        check(l[0], params: 16 * 16 * 9 + 16, shape: [1, 16, 64, 64])
        check(l[1], params: 16 * 4 * 3, shape: [1, 16, 64, 64])  // groups 4, no bias, 'same' for a 1x3 kernel
        check(l[2], params: 32, shape: [1, 16, 64, 64])
        for i in 3...6 { check(l[i], params: 0, shape: [1, 16, 64, 64]) }
        check(l[7], params: 0, shape: [1, 16, 1, 1])
        check(l[8], params: 0, shape: [1, 16])
        check(l[9], params: 16 * 10 + 10, shape: [1, 10])
    }

    func testYOLOv5ClassifyTakesItsArgsAsWritten() throws {
        let l = try layers(c1: 32, "[-1, 1, Classify, [32, 10]]", file: "classify")
        // conv Conv(32, 1280, 1) 40,960 + 2,560; linear nn.Linear(1280, 10) 12,800 + 10.
        check(l[0], params: 40_960 + 2_560 + 12_810, shape: [1, 10])
        XCTAssertEqual(message(c1: 32, "[-1, 1, Classify, [10]]"), "Classify needs args [c1, c2], got 1")
        XCTAssertEqual(message(c1: 32, "[-1, 1, Classify, [64, 10]]"),
                       "Classify: c1 is 64, but its input has 32 channels (YOLOv5's parse_model passes a Classify row's args unchanged: [c1, c2, k, s, p, g])")
    }

    func testRefusals() {
        XCTAssertEqual(message("[-1, 1, nn.Conv2d, [16, 32, 3]]"),
                       "nn.Conv2d: nn.Conv2d makes 32 channels, but parse_model records a torch.nn layer's output channels as its input's (16), so the layers after it would be built for 16; use Conv, or keep the channel count")
        XCTAssertEqual(message("[-1, 1, nn.Conv2d, [8, 8, 3]]"), "nn.Conv2d: in_channels is 8, but its input has 16 channels")
        XCTAssertEqual(message("[-1, 1, nn.MaxPool2d, [3, 1, 2]]"),
                       "nn.MaxPool2d: padding 2 must be non-negative and at most half the kernel 3, as PyTorch requires")
        XCTAssertEqual(message("[-1, 1, nn.MaxPool2d, [2, 2, 0, 1, True]]"),
                       "nn.MaxPool2d: return_indices=True returns a tuple, which no layer after it can read")
        // Blocks that read maps get 4-D ones, checked before they are built: no index past a 2-D shape.
        XCTAssertEqual(errorText { _ = try self.layers(c1: 16, "[-1, 1, nn.Flatten, []]", "[-1, 1, nn.Upsample, [8]]", file: "nn-rank") }?
                        .components(separatedBy: ": layer ").last,
                       "2: nn.Upsample takes 4-D feature maps (batch, channels, height, width), but its input is [1, 65536]")
        XCTAssertEqual(message("[-1, 1, nn.Dropout, [1.5]]"), "nn.Dropout: dropout probability has to be between 0 and 1, got 1.5")
        XCTAssertEqual(message("[-1, 1, nn.ZeroPad2d, [[1, 2]]]"), "nn.ZeroPad2d: padding must be an int or [left, right, top, bottom], got [1, 2]")
        XCTAssertEqual(message("[-1, 1, nn.Linear, [10, 4]]"),
                       "nn.Linear: in_features is 10, but the input's last axis has 64 (input [1, 16, 64, 64]); nn.Linear reads the last axis")
        XCTAssertEqual(message("[-1, 1, nn.AdaptiveAvgPool2d, [[65, 7]]]"),
                       "nn.AdaptiveAvgPool2d: output 65x7 does not divide the 64x64 input, and uneven windows are supported up to 64 cells per side")
    }
}
