import XCTest
import YoloCompile

/// Runtime profiles: what each refuses, named; each legalised graph computing what the generic one does (our
/// interpreter, same seeded input); the runtimes themselves are in Tests/peers/test_runtimes.py.
final class TargetTests: XCTestCase {
    func compile(_ name: String, size: Int) throws -> CompiledModel {
        try Compiler.compile(model: Repo.sample(name), weights: .seeded, options: CompileOptions(imageHeight: size, imageWidth: size))
    }

    func testGenericGraphsListWhatEachTargetRefuses() throws {
        let g = try compile("yolov5-mobilevit", size: 576).optimized
        let ncnn = RuntimeProfile.of(.ncnn).violations(of: g, opset: 17, written: try RuntimeProfile.written(g, opset: 17))
        XCTAssertEqual(ncnn.count, 22)  // 4 strided slices (Focus), 18 nodes at rank 6
        XCTAssertEqual(ncnn.first?.description, "/model.0/Slice (Slice): ncnn 20261020 through pnnx 20261020 takes no Slice with steps (2, 2)")
        let libonnx = RuntimeProfile.of(.libonnx).violations(of: g, opset: 17, written: try RuntimeProfile.written(g, opset: 17))
        XCTAssertEqual(libonnx.first?.description, "model (opset): opset 17 is outside libonnx (xboot e6129dab)'s 13 to 16")
        XCTAssertTrue(libonnx.contains { $0.description.hasSuffix("libonnx (xboot e6129dab) has no LayerNormalization") })
        XCTAssertEqual(RuntimeProfile.of(.ort).violations(of: g, opset: 17, written: try RuntimeProfile.written(g, opset: 17)), [])
    }

    /// Legalised for ncnn and libonnx, the seed backbones fit and compute the same outputs (data movement is
    /// exact; 0/1 selections and HardSigmoid round at most once).
    func testLegalisedGraphsFitAndComputeTheSame() throws {
        for (name, size) in [("yolov5-efficientvit", 320), ("yolov5-mobilevit", 576), ("yolov5-mobilenetv3", 320)] {
            let c = try compile(name, size: size)
            let x = seededInput(c.optimized.type(of: c.optimized.inputs[0]).shape, seed: 3)
            let reference = try Interpreter(c.optimized).run([x])
            for target in [RuntimeTarget.ncnn, .libonnx] {
                let stages = ExportStages(target: target)
                let r = try stages.apply(to: c, options: CompileOptions(imageHeight: size, imageWidth: size), fuse: true, opset: stages.opset(nil))
                let out = try Interpreter(r.graph).run([x])
                for (a, b) in zip(reference, out) {
                    XCTAssertEqual(a.shape, b.shape, "\(name) \(target)")
                    XCTAssertLessThanOrEqual(Double(maxAbsDifference(a, b)) / Double(a.floats.map(abs).max() ?? 1), 1e-6, "\(name) \(target)")
                }
            }
        }
    }

    func testTargetsRefuseWhatTheyCannotTake() throws {
        let c = try compile("yolov5n", size: 320)
        func refusal(_ stages: ExportStages) -> String {
            do { _ = try stages.apply(to: c, options: CompileOptions(imageHeight: 320, imageWidth: 320), fuse: true, opset: stages.opset(nil)); return "no error" }
            catch { return "\(error)" }
        }
        XCTAssertEqual(refusal(ExportStages(dynamic: .all, target: .tensorrt)),
                       "\(Repo.sample("yolov5n")): --target tensorrt: TensorRT 8.6 to 10 (ONNX parser) takes only the batch dynamic; use --dynamic batch")
        XCTAssertEqual(refusal(ExportStages(dynamic: .batch, target: .ncnn)),
                       "\(Repo.sample("yolov5n")): --target ncnn: ncnn 20261020 through pnnx 20261020 takes static shapes only; export without --dynamic")
        XCTAssertTrue(refusal(ExportStages(nms: NMSRequest(), target: .libonnx)).contains("--target libonnx: /nms/"))
        XCTAssertEqual(ExportStages(target: .libonnx).opset(nil), 16)
        XCTAssertEqual(ExportStages(target: .tensorrt).opset(nil), 17)
    }
}
