import XCTest
import YoloCompile

/// `--dynamic`: sizes fitted as monomials, the generalised graph specialised back to a size that was not
/// a probe and compared with the static graph built there, `--dynamic batch` without shape arithmetic,
/// and the refusals.
final class DynamicShapesTests: XCTestCase {
    /// The probes DynamicShapes uses around a base of batch 1 at 10x10 quanta.
    let points = [ProbePoint(batch: 1, h: 10, w: 10), ProbePoint(batch: 2, h: 10, w: 10), ProbePoint(batch: 1, h: 11, w: 10),
                  ProbePoint(batch: 1, h: 10, w: 11), ProbePoint(batch: 3, h: 12, w: 13)]
    let all = (batch: true, height: true, width: true)

    func testSizesFitAsMonomials() {
        // YOLOv5's anchors at strides 8, 16, 32 (quantum 32): 3 * (16 + 4 + 1) * h * w.
        let anchors = points.map { 63 * $0.h * $0.w }
        XCTAssertEqual(SizeMonomial.fit(anchors, at: points, varying: all)?.description, "h*w*63")
        // Windows fold into the batch: batch * h * w * 4.
        XCTAssertEqual(SizeMonomial.fit(points.map { 4 * $0.batch * $0.h * $0.w }, at: points, varying: all)?.description, "batch*h*w*4")
        XCTAssertEqual(SizeMonomial.fit(points.map { _ in 85 }, at: points, varying: all), .constant(85))
        // Half a quantum per unit of h: a rational coefficient, exact at every probe.
        let half = points.map { 16 * $0.h }
        XCTAssertEqual(SizeMonomial.fit(half, at: points, varying: all)?.value(at: ProbePoint(batch: 1, h: 7, w: 1)), 112)
        // Whole 2-cell windows, ceil(h / 2), are no monomial.
        XCTAssertNil(SizeMonomial.fit(points.map { ($0.h + 1) / 2 }, at: points, varying: all))
        // ceil(h / 7) is 2 at every probe: what the probes cannot see, the layer must declare (EfficientViT's
        // windows are a SizeRequirement, so the quantum makes them whole).
        XCTAssertEqual(SizeMonomial.fit(points.map { ($0.h + 6) / 7 }, at: points, varying: all), .constant(2))
        // h + w is not a product.
        XCTAssertNil(SizeMonomial.fit(points.map { $0.h + $0.w }, at: points, varying: all))
        // A size that varies with an axis left static is not fitted.
        XCTAssertNil(SizeMonomial.fit(points.map { $0.h }, at: points, varying: (batch: true, height: false, width: false)))
    }

    func compile(_ name: String, size: Int, batch: Int = 1, width: Int? = nil) throws -> CompiledModel {
        try Compiler.compile(model: Repo.sample(name), weights: .seeded,
                             options: CompileOptions(imageHeight: size, imageWidth: width ?? size, batch: batch))
    }

    func dynamic(_ name: String, size: Int, _ axes: DynamicAxes = .all) throws -> DynamicModel {
        let c = try compile(name, size: size)
        return try DynamicShapes.generalize(c, options: CompileOptions(imageHeight: size, imageWidth: size), fuse: true, axes: axes)
    }

    /// The dynamic graph at `size` is, node for node and constant for constant, the static graph built there.
    func assertSpecialisesToStatic(_ d: DynamicModel, _ name: String, batch: Int, height: Int, width: Int,
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        let input = TensorType(.float32, [batch, 3, height, width])
        let specialised = try GraphInference.specialise(d.graph, to: [input])
        let reference = try compile(name, size: height, batch: batch, width: width).optimized
        XCTAssertNil(GraphComparison.firstDifference(specialised, reference, reshapeByResult: true), name, file: file, line: line)
    }

    func testYOLOv5GeneralisesToSizesThatWereNotProbes() throws {
        let d = try dynamic("yolov5n", size: 320)
        let g = d.graph
        XCTAssertEqual(d.quantum.height, 32)
        XCTAssertEqual(g.type(of: g.inputs[0]).description, "f32[batch,3,height,width]")
        XCTAssertEqual(g.type(of: g.outputs[0]).description, "f32[batch,anchors,85]")
        // One Shape of the image; each level's grid from two Ranges.
        XCTAssertEqual(g.nodes.filter { $0.op == "Shape" }.count, 1)
        XCTAssertEqual(g.nodes.filter { $0.op == "Range" }.count, 6)
        try assertSpecialisesToStatic(d, "yolov5n", batch: 2, height: 256, width: 384)
        try assertSpecialisesToStatic(d, "yolov5n", batch: 1, height: 32, width: 64)
    }

    func testUltralyticsAnchorPointsOverLevelsAreRebuilt() throws {
        let d = try dynamic("yolo11n-seg", size: 320)
        let g = d.graph
        XCTAssertEqual(g.outputs.map { g.type(of: $0).description }, ["f32[batch,116,anchors]", "f32[batch,32,output1_height,output1_width]"])
        try assertSpecialisesToStatic(d, "yolo11n-seg", batch: 3, height: 192, width: 96)
    }

    func testDynamicBatchWritesNoShapeArithmetic() throws {
        let d = try dynamic("yolov5n", size: 320, .batch)
        XCTAssertEqual(d.graph.nodes.filter { ["Shape", "Range", "Gather", "Concat"].contains($0.op) && $0.name.hasPrefix("/dynamic") }.count, 0)
        XCTAssertEqual(d.graph.type(of: d.graph.inputs[0]).description, "f32[batch,3,320,320]")
        XCTAssertEqual(d.graph.type(of: d.graph.outputs[0]).description, "f32[batch,6300,85]")
        try assertSpecialisesToStatic(d, "yolov5n", batch: 4, height: 320, width: 320)
    }

    func testWindowAndPatchModelsTakeTheirLargerQuantum() throws {
        let vit = try dynamic("yolov5-efficientvit", size: 448)
        XCTAssertEqual([vit.quantum.height, vit.quantum.width], [224, 224])
        try assertSpecialisesToStatic(vit, "yolov5-efficientvit", batch: 1, height: 224, width: 672)
        let mobile = try dynamic("yolov5-mobilevit", size: 576)
        XCTAssertEqual([mobile.quantum.height, mobile.quantum.width], [192, 192])
    }

    func testSizesTheGraphIsNotTheSameAtAreRefused() throws {
        XCTAssertThrowsError(try dynamic("yolov5-efficientvit", size: 640)) { e in
            XCTAssertEqual("\(e)", "\(Repo.sample("yolov5-efficientvit")): --dynamic: the graph is the same at every size only for heights that are multiples of 224 and widths that are multiples of 224 (model.0.blocks1.0.mixer.m LocalWindowAttention pads its 80x80 feature map to whole 7x7 windows, by an amount that depends on the image size), and 640x640 is not; export at such a size (--imgsz 448 448) or with --dynamic batch")
        }
        // The same model at 640 has one graph for every batch.
        XCTAssertNoThrow(try dynamic("yolov5-efficientvit", size: 640, .batch))
    }
}
