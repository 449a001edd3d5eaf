import XCTest
import YoloCompile

/// Bad configs get one line naming the file, the line and the layer.
final class ConfigErrorTests: XCTestCase {
    let header = """
    nc: 80
    anchors:
      - [10,13, 16,30, 33,23]
    backbone:
      [[-1, 1, Conv, [16, 3, 2]],
    """

    func message(_ yaml: String, name: String = "bad.yaml") -> String? {
        let path = temporaryFile(name, contents: yaml)
        return errorText { _ = try Compiler.compile(configFile: path, options: CompileOptions(imageHeight: 64, imageWidth: 64)) }
            .map { $0.replacingOccurrences(of: path, with: name) }
    }

    func testUnknownModule() {
        let m = message(header + "\n   [-1, 1, Conv9, [32]]]\nhead: []\n") ?? ""
        XCTAssertTrue(m.hasPrefix("bad.yaml:6: layer 1: unknown module 'Conv9' (YOLOv5 modules known: AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, BatchNorm2d, Bottleneck, BottleneckCSP, C3, C3Ghost,"), m)
        XCTAssertFalse(m.contains("nn."), m)
    }

    /// A module of the other parse_model is named as such: the `anchors:` key decides whose config it is.
    func testModuleOfTheOtherDialect() {
        XCTAssertEqual(message(header + "\n   [-1, 1, C2f, [32]]]\nhead: []\n"),
                       "bad.yaml:6: layer 1: 'C2f' is an Ultralytics module, but this config has 'anchors', so it is read as a YOLOv5 config")
        // The seeds' blocks serve both.
        XCTAssertNil(message("nc: 3\nbackbone:\n  [[-1, 1, Conv, [16, 3, 2]],\n   [-1, 1, MV2Block, [32, 1, 2]]]\nhead: []\n"))
    }

    func testFromOutOfRangeAndForward() {
        XCTAssertEqual(message(header + "\n   [-3, 1, Conv, [32]]]\nhead: []\n"),
                       "bad.yaml:6: layer 1: 'from' -3 points before layer 0")
        XCTAssertEqual(message(header + "\n   [[-1, 2], 1, Concat, [1]]]\nhead: []\n"),
                       "bad.yaml:6: layer 1: 'from' 2 points forward: layer 1 can only read earlier layers")
    }

    func testMalformedYAML() {
        XCTAssertEqual(message("nc: 80\nanchors: [[1,2]\nbackbone: x\n"),
                       "bad.yaml:3: malformed YAML: did not find expected ',' or ']'")
    }

    func testMissingKeys() {
        XCTAssertEqual(message("anchors: 3\nbackbone: []\nhead: []\n"), "bad.yaml: missing 'nc' (the number of classes)")
        // Without 'anchors' a config is Ultralytics': nothing else is missing.
        XCTAssertEqual(message("nc: 3\nbackbone: []\nhead: []\n"), "bad.yaml: backbone and head hold no layers")
        XCTAssertEqual(message("nc: 3\nanchors: 3\nbackbone: []\n"),
                       "bad.yaml: missing 'head' (a list of [from, number, module, args] rows)")
    }

    func testWrongArgumentCount() {
        XCTAssertEqual(message(header + "\n   [-1, 1, SPPF, [32, 5, 1]]]\nhead: []\n"),
                       "bad.yaml:6: layer 1: SPPF takes at most 2 args [c2, k], got 3")
        XCTAssertEqual(message(header + "\n   [-1, 1, C3, []]]\nhead: []\n"),
                       "bad.yaml:6: layer 1: C3 needs args [c2], got 0")
    }

    func testBadRowAndValues() {
        XCTAssertEqual(message(header + "\n   [-1, 1, Conv]]\nhead: []\n"),
                       "bad.yaml:6: layer 1: expected a row [from, number, module, args]")
        XCTAssertEqual(message(header + "\n   [-1, 1, Conv, [32, 3, x]]]\nhead: []\n"),
                       "bad.yaml:6: layer 1: Conv: argument s must be an integer, got 'x'")
        XCTAssertEqual(message("nc: 0\nanchors: 3\nbackbone: []\nhead: []\n"), "bad.yaml:1: 'nc' must be a positive integer, got 0")
    }

    func testShapeErrorNamesTheLayer() {
        // Concat of maps with different sizes: layer 2 reads the stride-2 and stride-4 outputs.
        XCTAssertEqual(message(header + "\n   [-1, 1, Conv, [32, 3, 2]],\n   [[0, 1], 1, Concat, [1]]]\nhead: []\n"),
                       "bad.yaml:7: layer 2: Concat: input 1 is f32[1,32,16,16] but input 0 is f32[1,16,32,32]: sizes differ outside axis 1")
    }

    func testOutOfRangeValuesAreErrorsNotCrashes() {
        XCTAssertEqual(message("nc: 99999999999\nanchors: 3\nbackbone: []\nhead: []\n"),
                       "bad.yaml:1: 'nc' must be a positive integer, got 99999999999")
        XCTAssertEqual(message("nc: 1\nwidth_multiple: 1e300\nanchors: 3\nbackbone: []\nhead: []\n"),
                       "bad.yaml:2: 'width_multiple' must be a positive number up to 64, got 1e300")
        XCTAssertEqual(message(header + "\n   [-1, 1, Conv, [16, 9999999999]]]\nhead: []\n"),
                       "bad.yaml:6: layer 1: Conv: argument k is 9999999999, out of range (at most 1048576)")
        XCTAssertEqual(message(header + "\n   [-1, 1, C3, [16, True, 1, -1]]]\nhead: []\n"),
                       "bad.yaml:6: layer 1: C3: expansion e = -1.0 gives -16 hidden channels; needs at least 1")
        // A kernel larger than the padded map: PyTorch refuses it, so must we (not a 1x1 output).
        // 64 -> 32 -> 14 -> 5 -> 1, then a 5x5 kernel on a 1x1 map.
        XCTAssertEqual(message(header + "\n   [-1, 1, Conv, [16, 5, 2, 0]],\n   [-1, 1, Conv, [16, 5, 2, 0]],\n   [-1, 1, Conv, [16, 5, 2, 0]],\n   [-1, 1, Conv, [16, 5, 2, 0]]]\nhead: []\n"),
                       "bad.yaml:9: layer 4: Conv: kernel [5, 5] (dilation [1, 1]) does not fit the input [1, 1] with pads [0, 0, 0, 0]")
    }

    func testMissingFileAndDirectory() {
        XCTAssertEqual(errorText { _ = try ConfigParser.parse(file: "/nonexistent/m.yaml") }, "/nonexistent/m.yaml: no such file")
        XCTAssertEqual(errorText { _ = try ConfigParser.parse(file: "/tmp") }, "/tmp: is a directory, expected a model YAML file")
    }

    func testYOLOv5NameResolution() throws {
        let yaml = """
        nc: 5
        anchors: 2
        activation: nn.LeakyReLU(0.1)
        backbone:
          [[-1, 1, Conv, [16, 3, 2, None, 1, 1, True]],
           [-1, 1, Conv, [32, 3, 2]],
           [-1, 1, Upsample, [None, 2, nearest]],
           [[-1, 0], 1, Concat, [1]]]
        head:
          [[-1, 1, nn.BatchNorm2d, []],
           [[1, 4], 1, Detect, [nc, anchors]]]
        """
        let path = temporaryFile("names.yaml", contents: yaml)
        let c = try Compiler.compile(configFile: path, options: CompileOptions(imageHeight: 64, imageWidth: 64))
        // anchors: 2 -> two anchors per level; nc 5 -> 10 values per cell.
        XCTAssertEqual(c.optimized.type(of: c.optimized.outputs[0]).shape, [1, 2 * (16 * 16 + 32 * 32), 10])
        XCTAssertTrue(c.lowered.graph.nodes.contains { $0.op == "LeakyRelu" && $0.attributes["alpha"] == .float(0.1) })
        XCTAssertEqual(c.lowered.layers[5].arguments.first, .int(5))
        XCTAssertEqual(c.lowered.layers[5].module, "Detect")
    }
}
