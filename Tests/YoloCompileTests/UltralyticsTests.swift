import Foundation
import XCTest
import YoloCompile

/// Ultralytics configs (the ultralytics package, 8.x): scales chosen as Ultralytics chooses them, parameter
/// counts as its model info prints them, each module's count against the formula its PyTorch code gives,
/// and the heads' output shapes. Parity with PyTorch is in the peer tests (Tests/peers/test_zoos.py).
final class UltralyticsTests: XCTestCase {
    func compile(_ path: String, scale: String? = nil, size: Int = 640) throws -> CompiledModel {
        var o = CompileOptions(imageHeight: size, imageWidth: size)
        o.scale = scale
        return try Compiler.compile(model: path, weights: .seeded, options: o)
    }

    /// The sample configs at each scale: counts as `yolo info` prints them (the configs' own comments).
    func testParameterCountsAsUltralyticsReportsThem() throws {
        let expected: [(String, Int)] = [
            ("yolov8n", 3_157_200), ("yolov8s", 11_166_560), ("yolo11n", 2_624_080), ("yolo11s", 9_458_752),
            ("yolo11m", 20_114_688), ("yolo11n-seg", 2_876_848), ("yolo11n-pose", 2_908_507), ("yolo11n-obb", 2_695_747),
            ("yolo11n-cls", 2_812_104),
        ]
        for (name, count) in expected {
            let c = try compile(Repo.sample(name), size: name.hasSuffix("cls") ? 224 : 320)
            XCTAssertEqual(c.lowered.pytorchParameters, count, name)
        }
    }

    /// Outputs as Ultralytics' ONNX export writes them: (batch, 4 + nc [+ extra], anchors).
    func testHeadOutputShapes() throws {
        func shapes(_ name: String, _ size: Int = 640) throws -> [[Int]] {
            let g = try compile(Repo.sample(name), size: size).optimized
            return g.outputs.map { g.type(of: $0).shape }
        }
        XCTAssertEqual(try shapes("yolov8n"), [[1, 84, 8400]])
        XCTAssertEqual(try shapes("yolo11n-seg"), [[1, 116, 8400], [1, 32, 160, 160]])  // 4 + 80 + 32 mask coefficients
        XCTAssertEqual(try shapes("yolo11n-pose"), [[1, 135, 8400]])  // 4 + 80 + 17 * 3
        XCTAssertEqual(try shapes("yolo11n-obb", 1024), [[1, 85, 21504]])  // 4 + 80 + the angle
        XCTAssertEqual(try shapes("yolo11n-cls", 224), [[1, 1000]])
    }

    func testScaleComesFromTheFileNameFlagOrFirstScale() throws {
        // No samples/yolo11s.yaml: Ultralytics' unified file is read, at the scale the name gives.
        let s = try compile(Repo.sample("yolo11s"), size: 320)
        XCTAssertEqual(s.config.scale, "s")
        XCTAssertEqual(s.lowered.notes.first, "\(Repo.sample("yolo11s")) does not exist; reading \(Repo.sample("yolo11")), its unified config, as Ultralytics does")
        // --scale wins over the name; m clamps channels to max_channels 512 (SPPF is 512 wide, not 1024).
        let m = try compile(Repo.sample("yolo11n"), scale: "m", size: 320)
        XCTAssertEqual(m.lowered.pytorchParameters, 20_114_688)
        XCTAssertEqual(m.lowered.layers[9].arguments.prefix(2).map(\.description), ["512", "512"])
        // A name without a scale takes the first, and says so.
        let first = try compile(Repo.sample("yolo11"), size: 320)
        XCTAssertEqual(first.config.scale, "n")
        XCTAssertTrue(first.lowered.notes.contains("no model scale given (by --scale or a file name such as yolov8n.yaml); assuming scale 'n', as Ultralytics does"))
        XCTAssertEqual(errorText { _ = try self.compile(Repo.sample("yolo11"), scale: "q") },
                       "\(Repo.sample("yolo11")):9: has no scale 'q' (its scales: n, s, m, l, x)")
        XCTAssertEqual(errorText { _ = try self.compile(Repo.sample("yolov5s"), scale: "n") },
                       "\(Repo.sample("yolov5s")): has no 'scales' (an Ultralytics config's list of n, s, m, l, x), so --scale n cannot apply")
    }

    func testScaleGuessAndUnifiedName() {
        XCTAssertEqual(ModelScale.guess(fromPath: "runs/yolov8n.yaml"), "n")
        XCTAssertEqual(ModelScale.guess(fromPath: "yolo11x-seg.yaml"), "x")
        XCTAssertEqual(ModelScale.guess(fromPath: "yolo11-seg.yaml"), "")
        XCTAssertEqual(ModelScale.unifiedPath("cfg/yolo11s-pose.yaml"), "cfg/yolo11-pose.yaml")
        // Only the file name is rewritten (Ultralytics' regex runs over the whole path).
        XCTAssertEqual(ModelScale.unifiedPath("run2s/yolov8m.yaml"), "run2s/yolov8.yaml")
        XCTAssertNil(ModelScale.unifiedPath("cfg/yolo.yaml"))
        XCTAssertEqual(ModelScale.unifiedPath("yolov8s6.yaml"), "yolov8-p6.yaml")
    }

    /// Compiles `Conv [c1, 1, 1]` then `rows` as an Ultralytics config (no anchors, depth and width 1).
    func layers(c1: Int, _ rows: String..., file: String = "u") throws -> [LayerInfo] {
        let yaml = "nc: 4\nbackbone:\n  [[-1, 1, Conv, [\(c1), 1, 1]],\n" + rows.map { "   " + $0 + ",\n" }.joined() + "  ]\nhead: []\n"
        let c = try Compiler.compile(configFile: temporaryFile(file + ".yaml", contents: yaml), options: CompileOptions(imageHeight: 64, imageWidth: 64))
        XCTAssertEqual(c.config.dialect, .ultralytics)
        return Array(c.lowered.layers.dropFirst())
    }

    func check(_ l: LayerInfo, params: Int, shape: [Int], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(l.parameters, params, l.module, file: file, line: line)
        XCTAssertEqual(l.outputShape, shape, l.module, file: file, line: line)
    }

    func testC2fAndC3k2() throws {
        let l = try layers(c1: 32, "[-1, 1, C2f, [64, True]]", "[-1, 2, C2f, [64]]", "[-1, 1, C3k2, [64, False, 0.25]]",
                           "[-1, 1, C3k2, [64, True]]", file: "c2f")
        // C2f(32, 64, n=1): c = 32; cv1 Conv(32, 64) 2,048 + 128; cv2 Conv(96, 64) 6,144 + 128;
        // Bottleneck(32, 32, k=(3, 3), e=1.0): two Conv(32, 32, 3), 9,216 + 64 each.
        check(l[0], params: 2_176 + 6_272 + 2 * 9_280, shape: [1, 64, 64, 64])
        // n = 2: cv2 is Conv(128, 64) 8,192 + 128, and two Bottlenecks.
        check(l[1], params: 4_224 + 8_320 + 4 * 9_280, shape: [1, 64, 64, 64])
        XCTAssertEqual(l[1].arguments.map(\.description), ["64", "64", "2"])
        // C3k2(64, 64, c3k=False, e=0.25): c = 16; cv1 Conv(64, 32) 2,048 + 64; cv2 Conv(48, 64) 3,072 + 128;
        // Bottleneck(16, 16) with e=0.5: Conv(16, 8, 3) 1,152 + 16 and Conv(8, 16, 3) 1,152 + 32.
        check(l[2], params: 2_112 + 3_200 + 1_168 + 1_184, shape: [1, 64, 64, 64])
        // C3k2(64, 64, c3k=True): c = 32; cv1 Conv(64, 64) 4,224; cv2 Conv(96, 64) 6,272; C3k(32, 32, n=2):
        // c_ = 16, cv1 and cv2 Conv(32, 16) 544 each, cv3 Conv(32, 32) 1,088, two Bottlenecks of two
        // Conv(16, 16, 3) 2,304 + 32.
        check(l[3], params: 4_224 + 6_272 + 2 * 544 + 1_088 + 4 * 2_336, shape: [1, 64, 64, 64])
    }

    func testC2AndYOLOv6sActivation() throws {
        let l = try layers(c1: 32, "[-1, 1, C2, [64]]", file: "c2")
        // C2(32, 64): c = 32; cv1 Conv(32, 64) 2,176; cv2 Conv(64, 64) 4,224; Bottleneck(32, 32, k=(3, 3), e=1.0).
        check(l[0], params: 2_176 + 4_224 + 2 * 9_280, shape: [1, 64, 64, 64])
        XCTAssertEqual(Activation(pytorch: "torch.nn.ReLU()"), .relu)  // yolov6.yaml's activation
    }

    /// A config needing blocks we lack is refused naming the first, before any known block is built
    /// (YOLO26's depth config has an SPPF with 8.4's new arguments before its Depth head).
    func testMissingModuleIsNamedFirst() {
        let yaml = "nc: 4\nbackbone:\n  [[-1, 1, Conv, [16, 3, 2]],\n   [-1, 1, SPPF, [16, 5, 3, True]],\n   [-1, 1, SCDown, [32, 3, 2]]]\nhead: []\n"
        let m = errorText { _ = try Compiler.compile(configFile: temporaryFile("v10.yaml", contents: yaml), options: CompileOptions(imageHeight: 64, imageWidth: 64)) }
        XCTAssertTrue(m?.contains(":5: layer 2: unknown module 'SCDown' (Ultralytics modules known: ") == true, m ?? "")
    }

    /// 8.4's parse_model scales every base module but Classify, even one as wide as nc (8.3 left those alone).
    func testWidthGainSparesOnlyClassify() throws {
        let yaml = "nc: 64\nscales:\n  n: [0.33, 0.25, 1024]\nbackbone:\n  [[-1, 1, Conv, [64, 3, 2]],\n   [-1, 1, Classify, [nc]]]\nhead: []\n"
        let c = try Compiler.compile(configFile: temporaryFile("width.yaml", contents: yaml), options: CompileOptions(imageHeight: 64, imageWidth: 64))
        XCTAssertEqual(c.lowered.layers.map { $0.arguments.prefix(2).map(\.description) }, [["3", "16"], ["16", "64"]])
    }

    func testUltralyticsRefusals() {
        func message(_ rows: String) -> String? {
            let yaml = "nc: 4\nkpt_shape: [17, 3]\nbackbone:\n  [[-1, 1, Conv, [16, 3, 2]],\n   [-1, 1, Conv, [32, 3, 2]],\n" + rows + "]\nhead: []\n"
            return errorText { _ = try Compiler.compile(configFile: temporaryFile("refuse.yaml", contents: yaml), options: CompileOptions(imageHeight: 64, imageWidth: 64)) }?
                .components(separatedBy: ": layer ").last
        }
        XCTAssertEqual(message("   [[0, 1], 1, Detect, [nc, anchors]]"),
                       "2: 'anchors' names no value: this config has no 'anchors:' key, so it is read as an Ultralytics config, whose heads are anchor-free; add 'anchors:' to read it as YOLOv5's")
        XCTAssertEqual(message("   [-1, 1, nn.Flatten, []],\n   [[-1], 1, Pose, [nc, kpt_shape]]"),
                       "3: Pose takes 4-D feature maps (batch, channels, height, width), but its input is [1, 8192]")
        XCTAssertEqual(message("   [[0, 1], 1, Pose, [nc, [17, 4]]]"), "2: Pose: kpt_shape must be [keypoints, 2 or 3], got [17, 4]")
    }

    func testC2PSA() throws {
        let l = try layers(c1: 128, "[-1, 1, C2PSA, [128]]", file: "c2psa")
        // C2PSA(128, 128): c = 64; cv1, cv2 Conv(128, 128) 16,640 each; PSABlock(64, 1 head): qkv
        // Conv(64, 128, act=False) 8,448, proj Conv(64, 64) 4,224, pe Conv(64, 64, 3, g=64) 704,
        // ffn Conv(64, 128) 8,448 and Conv(128, 64) 8,320.
        check(l[0], params: 2 * 16_640 + 8_448 + 4_224 + 704 + 8_448 + 8_320, shape: [1, 128, 64, 64])
        // Narrower than 64 hidden channels: max(c // 64, 1) = 1 head (8.4). c = 32: cv1, cv2 Conv(64, 64) 4,224 each;
        // qkv Conv(32, 64) 2,176, proj Conv(32, 32) 1,088, pe 352, ffn 2,176 + 2,112.
        check(try layers(c1: 64, "[-1, 1, C2PSA, [64]]", file: "c2psa-small")[0], params: 2 * 4_224 + 2_176 + 1_088 + 352 + 2_176 + 2_112, shape: [1, 64, 64, 64])
    }

    /// Detect: per level box branch Conv(x, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 64, 1) with
    /// c2 = max(16, ch[0] // 4, 64), class branch (legacy, YOLOv8) Conv(x, c3, 3), Conv(c3, c3, 3),
    /// nn.Conv2d(c3, nc, 1) with c3 = max(ch[0], min(nc, 100)), and DFL's 16 fixed weights.
    func testDetectHead() throws {
        let c = try compile(Repo.sample("yolov8n"), size: 320)
        let detect = try XCTUnwrap(c.lowered.layers.last)
        // ch = (64, 128, 256): c2 = 64, c3 = 80.
        let box = [64, 128, 256].reduce(0) { $0 + ($1 * 64 * 9 + 128) + (64 * 64 * 9 + 128) + (64 * 64 + 64) }
        let cls = [64, 128, 256].reduce(0) { $0 + ($1 * 80 * 9 + 160) + (80 * 80 * 9 + 160) + (80 * 80 + 80) }
        XCTAssertEqual(detect.parameters, box + cls + 16)
        XCTAssertEqual(detect.arguments.map(\.description), ["80", "16", "None", "[64, 128, 256]"])
        // DFL's conv weight is arange(16), whatever the seed.
        let g = c.lowered.graph
        let dfl = try XCTUnwrap(g.constants.first { g.name(of: $0.key) == "model.22.dfl.conv.weight" }?.value)
        XCTAssertEqual(dfl.tensor.floats, (0..<16).map(Float.init))
    }

    /// YOLO11 (any C3k2 before the head) makes Detect's class branch depthwise: Detect.legacy is False.
    func testDetectClassBranchFollowsLegacy() throws {
        let c = try compile(Repo.sample("yolo11n"), size: 320)
        let names = c.lowered.graph.constantOrder.compactMap { c.lowered.graph.name(of: $0) }
        XCTAssertTrue(names.contains("model.23.cv3.0.0.0.conv.weight"))  // DWConv(64, 64, 3)
        XCTAssertTrue(names.contains("model.23.cv3.0.1.1.conv.weight"))  // Conv(80, 80, 1)
        let g = c.lowered.graph
        XCTAssertEqual(g.constants.first { g.name(of: $0.key) == "model.23.cv3.0.0.0.conv.weight" }?.value.tensor.shape, [64, 1, 3, 3])
    }
}
