import XCTest
import YoloCompile

/// End-to-end NMS on four hand-made YOLOv5 candidates (two classes), in the graph (our interpreter) and
/// in the reference, against figures worked out by hand.
final class EndToEndNMSTests: XCTestCase {
    // cx, cy, w, h, objectness, class 0, class 1
    let rows: [[Float]] = [
        [50, 50, 20, 20, 0.9, 0.9, 0.1],    // score 0.81, class 0
        [52, 50, 20, 20, 0.8, 0.9, 0.2],    // 0.72, class 0: IoU 360 / 440 = 0.82 with row 0, suppressed
        [52, 50, 20, 20, 0.8, 0.1, 0.9],    // 0.72, class 1: kept per class, suppressed by row 0 when agnostic
        [150, 150, 10, 10, 0.2, 0.5, 0.5],  // 0.1: below the threshold
    ]
    let layout = DetectionLayout(channelsFirst: false, objectness: true, classes: 2, extra: .none)

    var raw: Tensor { Tensor(shape: [1, 4, 7], floats: rows.flatMap { $0 }) }

    func options(agnostic: Bool, max: Int = 1000) -> NMSOptions {
        NMSOptions(scoreThreshold: 0.25, iouThreshold: 0.45, maxDetections: max, agnostic: agnostic)
    }

    /// The graph: `output0` is the raw input, passed through, then NMS.
    func graph(_ o: NMSOptions) throws -> Graph {
        var g = Graph(name: "nms")
        let x = g.addValue(name: "raw", type: TensorType(.float32, [1, 4, 7]))
        g.inputs = [x]
        let y = g.addValue(name: "output0", type: TensorType(.float32, [1, 4, 7]))
        g.nodes = [Node(op: "Identity", name: "/Identity", inputs: [x], outputs: [y])]
        g.outputs = [y]
        return try EndToEndNMS.append(to: g, layout: layout, options: o)
    }

    func testPerClassKeepsTheOtherClassesOverlap() throws {
        let o = options(agnostic: false)
        let g = try graph(o)
        XCTAssertEqual(g.outputs.map { "\(g.name(of: $0)) \(g.type(of: $0))" },
                       ["num_dets i32[1,1]", "det_boxes f32[1,4,4]", "det_scores f32[1,4]", "det_classes i32[1,4]"])
        let out = try Interpreter(g).run([raw])
        XCTAssertEqual(out[0].ints, [2])
        XCTAssertEqual(out[1].floats, [40, 40, 60, 60, 42, 40, 62, 60] + [Float](repeating: 0, count: 8))
        XCTAssertEqual(out[2].floats, [Float(0.9) * 0.9, Float(0.9) * 0.8, 0, 0])
        XCTAssertEqual(out[3].ints, [0, 1, 0, 0])
        XCTAssertEqual(try ReferenceNMS.run(raw, layout: layout, options: o), out)
    }

    func testAgnosticSuppressesAcrossClasses() throws {
        let o = options(agnostic: true)
        let out = try Interpreter(try graph(o)).run([raw])
        XCTAssertEqual(out[0].ints, [1])
        XCTAssertEqual(out[3].ints, [0, 0, 0, 0])
        XCTAssertEqual(try ReferenceNMS.run(raw, layout: layout, options: o), out)
    }

    func testMaximumDetectionsCutsTheLowerScores() throws {
        let o = options(agnostic: false, max: 1)
        let out = try Interpreter(try graph(o)).run([raw])
        XCTAssertEqual(out[0].ints, [1])
        XCTAssertEqual(out[1].shape, [1, 1, 4])
        XCTAssertEqual(out[1].floats, [40, 40, 60, 60])
        XCTAssertEqual(try ReferenceNMS.run(raw, layout: layout, options: o), out)
    }

    func testHeadsNMSCannotTakeAreRefused() throws {
        func refusal(_ name: String, size: Int) -> String {
            do {
                let c = try Compiler.compile(model: Repo.sample(name), weights: .seeded, options: CompileOptions(imageHeight: size, imageWidth: size))
                _ = try DetectionLayout.of(c)
                return "no error"
            } catch { return "\(error)" }
        }
        XCTAssertEqual(refusal("yolo11n-cls", size: 224), "\(Repo.sample("yolo11-cls")):33: --nms: a classifier has no boxes to suppress")
        XCTAssertTrue(refusal("yolo11n-obb", size: 256).hasSuffix(":50: --nms: OBB's rotated boxes need a rotated-box NMS, which ONNX NonMaxSuppression (axis-aligned) cannot do; export without --nms and apply a rotated NMS to output0"))
        XCTAssertEqual(refusal("yolov5s-seg", size: 256), "no error")
    }
}
