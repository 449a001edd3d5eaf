import XCTest
import YoloCompile

/// The YOLOv5 family against PyTorch's own figures (models/yolo.py model.info()).
final class ModelTests: XCTestCase {
    // (sample, parameters, after YOLOv5's Conv+BN fusion, YOLOv5's printed GFLOPs at 640)
    let family: [(String, Int, Int, Double)] = [
        ("yolov5n", 1_872_157, 1_867_405, 4.6),
        ("yolov5s", 7_235_389, 7_225_885, 16.6),
        ("yolov5m", 21_190_557, 21_172_173, 49.2),
        ("yolov5l", 46_563_709, 46_533_693, 109.6),
        ("yolov5x", 86_749_405, 86_705_005, 206.3),
    ]

    func testParameterCountsAndGFLOPsMatchPyTorch() throws {
        for (name, params, fused, gflops) in family {
            let c = try Compiler.compile(configFile: Repo.sample(name), options: CompileOptions())
            XCTAssertEqual(c.lowered.graph.constantElementCount(kinds: [.parameter]), params, name)
            XCTAssertEqual(c.optimized.constantElementCount(kinds: [.parameter]), fused, name)
            let ours = graphFLOPs(c.lowered.graph) / 1e9
            XCTAssertEqual(ours, gflops, accuracy: gflops * 0.02, "\(name): \(ours) GFLOPs")
            XCTAssertEqual(c.lowered.layers.map(\.parameters).reduce(0, +), params, "\(name) per-layer counts")
        }
    }

    func testYolov5sRowsMatchYOLOv5Summary() throws {
        let c = try Compiler.compile(configFile: Repo.sample("yolov5s"), options: CompileOptions())
        // From YOLOv5's printout of yolov5s.yaml: layer 0, 2 (C3), 9 (SPPF), 24 (Detect).
        XCTAssertEqual(c.lowered.layers[0].parameters, 3520)
        XCTAssertEqual(c.lowered.layers[2].parameters, 18816)
        XCTAssertEqual(c.lowered.layers[2].arguments.map(\.description), ["64", "64", "1"])
        XCTAssertEqual(c.lowered.layers[9].parameters, 656896)
        XCTAssertEqual(c.lowered.layers[24].parameters, 229245)
        XCTAssertEqual(c.lowered.layers[13].arguments.map(\.description), ["512", "256", "1", "False"])
        XCTAssertEqual(c.lowered.strides, [8, 16, 32])
    }

    func testOutputShapes() throws {
        let at640 = try Compiler.compile(configFile: Repo.sample("yolov5s"), options: CompileOptions())
        XCTAssertEqual(at640.optimized.type(of: at640.optimized.outputs[0]).shape, [1, 25200, 85])
        let at320 = try Compiler.compile(configFile: Repo.sample("yolov5n"), options: CompileOptions(imageHeight: 320, imageWidth: 320))
        XCTAssertEqual(at320.optimized.type(of: at320.optimized.outputs[0]).shape, [1, 6300, 85])
        let rect = try Compiler.compile(configFile: Repo.sample("yolov5n"), options: CompileOptions(imageHeight: 384, imageWidth: 640, batch: 2))
        XCTAssertEqual(rect.optimized.type(of: rect.optimized.outputs[0]).shape, [2, 3 * (48 * 80 + 24 * 40 + 12 * 20), 85])
    }

    func testImageSizeRoundsUpToStride() throws {
        let c = try Compiler.compile(configFile: Repo.sample("yolov5n"), options: CompileOptions(imageHeight: 330, imageWidth: 330))
        XCTAssertEqual(c.lowered.notes, ["image size 330x330 is not a multiple of the max stride 32; using 352x352"])
        XCTAssertEqual(c.optimized.type(of: c.optimized.inputs[0]).shape, [1, 3, 352, 352])
        // Sizes that would build but are not multiples of 32 are rounded too: strides stay YOLOv5's.
        let small = try Compiler.compile(configFile: Repo.sample("yolov5n"), options: CompileOptions(imageHeight: 62, imageWidth: 96))
        XCTAssertEqual(small.lowered.notes, ["image size 62x96 is not a multiple of the max stride 32; using 64x96"])
        XCTAssertEqual(small.lowered.strides, [8, 16, 32])
    }

    func testAnchorsOrderedAgainstStridesAreFlippedWithANote() throws {
        let yaml = try String(contentsOfFile: Repo.sample("yolov5n"), encoding: .utf8)
            .replacingOccurrences(of: "[[17, 20, 23], 1, Detect, [nc, anchors]]", with: "[[23, 20, 17], 1, Detect, [nc, anchors]]")
        let c = try Compiler.compile(configFile: temporaryFile("flipped.yaml", contents: yaml), options: CompileOptions(imageHeight: 64, imageWidth: 64))
        XCTAssertEqual(c.lowered.strides, [32, 16, 8])
        XCTAssertEqual(c.lowered.notes, ["Detect anchors were ordered against the strides [32, 16, 8]; reversed them, as YOLOv5's check_anchor_order does"])
    }

    func testStateDictNamesAndAnchorsBuffer() throws {
        let c = try Compiler.compile(configFile: Repo.sample("yolov5n"), options: CompileOptions())
        let g = c.lowered.graph
        var byName: [String: Constant] = [:]
        for (v, k) in g.orderedConstants { byName[g.name(of: v)] = k }
        XCTAssertEqual(byName["model.0.conv.weight"]?.tensor.shape, [16, 3, 6, 6])
        XCTAssertEqual(byName["model.2.m.0.cv1.bn.running_var"]?.kind, .buffer)
        XCTAssertEqual(byName["model.24.m.1.bias"]?.tensor.shape, [255])
        // anchors / stride, as YOLOv5 stores them: P3 [10,13, 16,30, 33,23] / 8.
        XCTAssertEqual(byName["model.24.anchors"]?.tensor.shape, [3, 3, 2])
        XCTAssertEqual(Array(byName["model.24.anchors"]!.tensor.floats.prefix(6)), [1.25, 1.625, 2, 3.75, 4.125, 2.875])
        // Every BatchNorm has YOLOv5's eps 1e-3.
        let eps = try g.nodes.filter { $0.op == "BatchNormalization" }.map { try $0.attributeView().float("epsilon") }
        XCTAssertEqual(Set(eps), [1e-3])
        XCTAssertEqual(eps.count, 57)
    }

    func testSeedIsDeterministicAndMatters() throws {
        let a = try Compiler.compile(configFile: Repo.sample("yolov5n"), options: CompileOptions(imageHeight: 64, imageWidth: 64, seed: 1))
        let b = try Compiler.compile(configFile: Repo.sample("yolov5n"), options: CompileOptions(imageHeight: 64, imageWidth: 64, seed: 1))
        let c = try Compiler.compile(configFile: Repo.sample("yolov5n"), options: CompileOptions(imageHeight: 64, imageWidth: 64, seed: 2))
        XCTAssertEqual(try OnnxWriter.serialize(a.optimized), try OnnxWriter.serialize(b.optimized))
        XCTAssertNotEqual(try OnnxWriter.serialize(a.optimized), try OnnxWriter.serialize(c.optimized))
    }
}
