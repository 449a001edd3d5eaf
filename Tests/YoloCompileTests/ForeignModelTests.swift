import Foundation
import XCTest
import YoloCompile

/// ONNX files other producers wrote (torch.onnx.export of the fixture networks, with and without dynamic
/// axes), symbolic dimensions, and the folding budget.
final class ForeignModelTests: XCTestCase {
    func testTorchExportsOfEfficientViTRunAtOpsets12And17() throws {
        let x = try Npy.read(file: Repo.fixture("yolov5-efficientvit/input.npy"))
        let expected = try Npy.read(file: Repo.fixture("yolov5-efficientvit/output.npy"))
        for opset in [12, 17] {
            let (g, info) = try OnnxReader.read(file: Repo.fixture("torch-exports/yolov5-efficientvit.opset\(opset).onnx"))
            XCTAssertEqual(info.opset, opset)
            // The window-attention shape arithmetic torch traced (Shape, Gather, Mod, ConstantOfShape, ...)
            // folds away once the static input size is known.
            let ops = Set(g.nodes.map(\.op))
            XCTAssertTrue(ops.isDisjoint(with: ["Shape", "Mod", "ConstantOfShape", "Range", "Equal"]), "opset \(opset): \(ops.sorted())")
            let y = try Interpreter(g).run([x])[0]
            XCTAssertEqual(y.shape, [1, 6300, 85])
            // Measured 9.2e-5 on outputs up to ~400.
            XCTAssertLessThan(maxAbsDifference(y, expected), 2e-4, "opset \(opset)")
        }
    }

    func testDynamicAxesExportRunsAtTheSizesItIsGiven() throws {
        let (g, info) = try OnnxReader.read(file: Repo.fixture("torch-exports/yolov5n-dynamic.opset17.onnx"))
        XCTAssertEqual(g.type(of: g.inputs[0]).description, "f32[batch,3,height,width]")
        XCTAssertEqual(info.declaredOutputs.first??.description, "f32[batch,anchors,Concatoutput0_dim_2]")
        XCTAssertFalse(g.type(of: g.outputs[0]).isStatic)
        XCTAssertEqual(g.nodes.filter { $0.op == "Shape" }.count, 21)
        // Specialised to a size, every type is static and the shape arithmetic (Shape, Gather, Unsqueeze,
        // Concat, ConstantOfShape, Range, Expand, ...) folds into constants.
        let fixed = try GraphInference.specialise(g, to: [TensorType(.float32, [1, 3, 320, 320])])
        XCTAssertTrue(fixed.values.indices.allSatisfy { fixed.type(of: ValueID($0)).isStatic })
        XCTAssertEqual(Set(fixed.nodes.map(\.op)).intersection(["Shape", "Gather", "ConstantOfShape", "Range", "Equal", "Where"]), [])
        XCTAssertEqual(fixed.nodes.count, 236)
        let interpreter = try Interpreter(g)

        let x = try Npy.read(file: Repo.fixture("yolov5n/input.npy"))
        let expected = try Npy.read(file: Repo.fixture("yolov5n/output.npy"))
        let y = try interpreter.run([x])[0]
        XCTAssertEqual(y.shape, [1, 6300, 85])
        XCTAssertLessThan(maxAbsDifference(y, expected), 2e-4)

        // Batch 2: each image's rows are what it gives alone.
        var pair = x
        pair.shape = [2, 3, 320, 320]
        pair.floats += x.floats
        let y2 = try interpreter.run([pair])[0]
        XCTAssertEqual(y2.shape, [2, 6300, 85])
        XCTAssertEqual(Array(y2.floats[..<y.count]), y.floats)
        XCTAssertEqual(Array(y2.floats[y.count...]), y.floats)

        // Another size: the same weights exported statically by yolo-compile at 256x320 agree.
        let small = Tensor(shape: [1, 3, 256, 320], floats: Array(x.floats[..<(3 * 256 * 320)]))
        let dynamic = try interpreter.run([small])[0]
        let c = try Compiler.compile(model: Repo.sample("yolov5n"), weights: .file(Repo.fixture("yolov5n/weights.safetensors"), partial: false),
                                     options: CompileOptions(imageHeight: 256, imageWidth: 320))
        let reference = try Interpreter(c.optimized).run([small])[0]
        XCTAssertEqual(dynamic.shape, [1, 3 * (32 * 40 + 16 * 20 + 8 * 10), 85])
        XCTAssertLessThan(maxAbsDifference(dynamic, reference), 2e-4)

        // A size the graph cannot take is refused, naming the node.
        let odd = Tensor.zeros([1, 3, 100, 100])
        let message = errorText { _ = try interpreter.run([odd]) } ?? ""
        XCTAssertTrue(message.hasPrefix("interpreter: node /model."), message)
    }

    func testInputsMustBindSymbolsConsistently() throws {
        var g = Graph(name: "two")
        let a = g.addValue(name: "a", type: TensorType(.float32, dims: [.symbol("n"), .value(2)]))
        let b = g.addValue(name: "b", type: TensorType(.float32, dims: [.symbol("n"), .value(2)]))
        g.inputs = [a, b]
        let c = g.addValue(name: "c", type: TensorType(.float32, dims: nil))
        g.nodes = [Node(op: "Add", name: "add", inputs: [a, b], outputs: [c])]
        g.outputs = [c]
        let (read, _) = try OnnxReader.read(bytes: Data(try OnnxWriter.serialize(g)), file: "two.onnx")
        XCTAssertEqual(read.type(of: read.outputs[0]).description, "f32[n,2]")  // symbols carry through broadcasting
        let run = try Interpreter(read)
        XCTAssertEqual(try run.run([Tensor.zeros([3, 2]), Tensor.zeros([3, 2])])[0].shape, [3, 2])
        XCTAssertEqual(errorText { _ = try run.run([Tensor.zeros([3, 2]), Tensor.zeros([4, 2])]) },
                       "interpreter: b: input has shape [4, 2], but 'n' is 3 in an earlier input")
    }

    func testFoldingStaysWithinItsBudget() throws {
        // A few hundred bytes that ask for 10^9 elements: read without allocating them (the node stays,
        // to run if the model is run).
        var g = Graph(name: "huge")
        let shape = g.addConstant(name: "shape", tensor: .vector([1_000_000_000]), kind: .constant)
        let y = g.addValue(name: "y", type: TensorType(.float32, [1_000_000_000]))
        g.nodes = [Node(op: "ConstantOfShape", name: "fill", inputs: [shape], outputs: [y])]
        g.outputs = [y]
        let bytes = try OnnxWriter.serialize(g)
        XCTAssertLessThan(bytes.count, 300)
        let (read, _) = try OnnxReader.read(bytes: Data(bytes), file: "huge.onnx")
        XCTAssertEqual(read.nodes.map(\.op), ["ConstantOfShape"])
        XCTAssertEqual(read.type(of: read.outputs[0]), TensorType(.float32, [1_000_000_000]))

        // Within budget the same kind of node folds; with a budget of 10 elements a 16-element one stays.
        var small = Graph(name: "small")
        let s = small.addConstant(name: "shape", tensor: .vector([4, 4]), kind: .constant)
        let z = small.addValue(name: "z", type: TensorType(.float32, [4, 4]))
        small.nodes = [Node(op: "ConstantOfShape", name: "fill", inputs: [s], outputs: [z])]
        small.outputs = [z]
        let smallBytes = Data(try OnnxWriter.serialize(small))
        XCTAssertEqual(try OnnxReader.read(bytes: smallBytes, file: "s.onnx").0.nodes.count, 0)
        let tight = FoldingBudget(elements: 10, multiplyAdds: 1e6)
        XCTAssertEqual(try OnnxReader.read(bytes: smallBytes, file: "s.onnx", budget: tight).0.nodes.map(\.op), ["ConstantOfShape"])
    }
}
