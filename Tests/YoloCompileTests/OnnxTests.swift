import Foundation
import XCTest
import YoloCompile

final class OnnxTests: XCTestCase {
    func testExportImportExportIsByteIdentical() throws {
        for opset in [12, 17, 21] {
            for fuse in [true, false] {
                let c = try Compiler.compile(configFile: Repo.sample("yolov5n"), options: CompileOptions(imageHeight: 320, imageWidth: 320), fuse: fuse)
                let first = try OnnxWriter.serialize(c.optimized, options: OnnxWriteOptions(opset: opset))
                let (g, info) = try OnnxReader.read(bytes: Data(first), file: "first.onnx")
                XCTAssertEqual(info.opset, opset)
                let second = try OnnxWriter.serialize(g, options: OnnxWriteOptions(opset: opset))
                XCTAssertEqual(first.count, second.count, "opset \(opset) fuse \(fuse)")
                XCTAssertTrue(first == second, "opset \(opset) fuse \(fuse): re-export differs")
            }
        }
    }

    func testIrVersionFollowsOpset() throws {
        XCTAssertEqual([12, 14, 15, 17, 18, 19, 20, 21].map(Opset.irVersion(for:)), [7, 7, 8, 8, 8, 9, 9, 10])
    }

    func testExportedModelMatchesUnfusedGraphInInterpreter() throws {
        let c = try Compiler.compile(configFile: Repo.sample("yolov5n"), options: CompileOptions(imageHeight: 320, imageWidth: 320))
        let (g, _) = try OnnxReader.read(bytes: Data(try OnnxWriter.serialize(c.optimized)), file: "n.onnx")
        let x = try Npy.read(file: Repo.fixture("yolov5n/input.npy"))
        let reference = try Interpreter(c.lowered.graph).run([x])[0]
        let fused = try Interpreter(g).run([x])[0]
        let scale = reference.floats.map(abs).max() ?? 1
        XCTAssertGreaterThan(scale, 100)  // decoded boxes: pixels
        XCTAssertLessThan(maxAbsDifference(reference, fused) / scale, 1e-5)
        // No BatchNormalization, Slice or Shape survives in the export; the anchor grid is a constant.
        XCTAssertEqual(Set(g.nodes.map(\.op)), ["Conv", "Sigmoid", "Mul", "Add", "Concat", "MaxPool", "Resize", "Reshape", "Transpose", "Split", "Pow"])
        XCTAssertEqual(g.nodes.count, 236)
        XCTAssertEqual(g.metadata.first?.key, "stride")
        XCTAssertEqual(g.metadata.first?.value, "32")
    }

    /// What torch.onnx.export writes for the fused yolov5n (opset 17), with PyTorch's output beside it.
    func testTorchExportImportsAndMatchesPyTorch() throws {
        let (g, info) = try OnnxReader.read(file: Repo.fixture("yolov5n/torch-export-opset17.onnx"))
        XCTAssertEqual(info.opset, 17)
        let x = try Npy.read(file: Repo.fixture("yolov5n/input.npy"))
        let expected = try Npy.read(file: Repo.fixture("yolov5n/output.npy"))
        let y = try Interpreter(g).run([x])[0]
        XCTAssertEqual(y.shape, [1, 6300, 85])
        XCTAssertGreaterThan(expected.floats.map(abs).max() ?? 0, 300)
        XCTAssertLessThan(maxAbsDifference(y, expected), 1e-3)
    }

    func testUnsupportedOperatorsAreListedTogether() throws {
        var g = Graph(name: "odd")
        let x = g.addValue(name: "x", type: TensorType(.float32, [1, 4]))
        g.inputs = [x]
        let a = g.addValue(name: "a", type: TensorType(.float32, [1, 4]))
        let b = g.addValue(name: "b", type: TensorType(.float32, [1, 4]))
        let c = g.addValue(name: "c", type: TensorType(.float32, [1, 4]))
        g.nodes = [Node(op: "Sigmoid", name: "s", inputs: [x], outputs: [a]),
                   Node(op: "Relu", name: "r", inputs: [a], outputs: [b]),
                   Node(op: "Sigmoid", name: "s2", inputs: [b], outputs: [c])]
        g.outputs = [c]
        var bytes = try OnnxWriter.serialize(g)
        // Rename the op types in the wire bytes: same lengths, so the protobuf stays valid.
        bytes = replace(bytes, "Sigmoid", "Bitcast")
        bytes = replace(bytes, "Relu", "Mish")
        XCTAssertEqual(errorText { _ = try OnnxReader.read(bytes: Data(bytes), file: "odd.onnx") },
                       "odd.onnx: node s (Bitcast): operator Bitcast is not supported; node r (Mish): Mish before opset 18 is not supported (the file imports opset 17)")
    }

    func testTruncatedAndForeignFilesAreRejected() throws {
        let c = try Compiler.compile(configFile: Repo.sample("yolov5n"), options: CompileOptions(imageHeight: 64, imageWidth: 64))
        let bytes = try OnnxWriter.serialize(c.optimized)
        XCTAssertEqual(errorText { _ = try OnnxReader.read(bytes: Data(bytes.prefix(bytes.count / 2)), file: "cut.onnx") },
                       "cut.onnx: is not an ONNX model (the protobuf does not parse: truncated or another format)")
        XCTAssertEqual(errorText { _ = try OnnxReader.read(bytes: Data("not a model at all\n".utf8), file: "text.onnx") },
                       "text.onnx: is not an ONNX model (the protobuf does not parse: truncated or another format)")
        XCTAssertEqual(errorText { _ = try OnnxReader.read(bytes: Data(), file: "empty.onnx") }, "empty.onnx: is empty, expected an ONNX model")
        XCTAssertEqual(errorText { _ = try OnnxReader.read(file: "/nonexistent/m.onnx") }, "/nonexistent/m.onnx: no such file")
        XCTAssertEqual(errorText { _ = try OnnxReader.read(file: "/tmp") }, "/tmp: is a directory, expected an ONNX model file")
    }

    func testGeneratedProtobufCIsCurrent() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [Repo.path("tools/regen-proto.sh"), "--check"]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "Sources/COnnxProto is stale: run tools/regen-proto.sh")
    }

    func testNpyRoundTrip() throws {
        let t = Tensor(shape: [2, 3], floats: [1, -2, 3.5, 0, 1e-7, 300])
        let path = temporaryFile("t.npy", contents: "")
        try Npy.write(t, to: path)
        XCTAssertEqual(try Npy.read(file: path), t)
    }

    private func replace(_ b: [UInt8], _ from: String, _ to: String) -> [UInt8] {
        let f = Array(from.utf8), t = Array(to.utf8)
        var out = b
        var i = 0
        while i + f.count <= out.count {
            if Array(out[i..<(i + f.count)]) == f { out.replaceSubrange(i..<(i + f.count), with: t); i += t.count } else { i += 1 }
        }
        return out
    }

    func testSoftmaxBelowOpset13IsWrittenOnlyOverTheLastAxis() throws {
        let b = GraphBuilder(name: "sm", parameters: ZeroParameters())
        let x = b.input("x", TensorType(.float32, [1, 3, 4]))
        b.output(try b.op("Softmax", [x], ["axis": .int(1)]), name: "y")
        XCTAssertEqual(errorText { _ = try OnnxWriter.serialize(b.finish(), options: OnnxWriteOptions(opset: 12)) },
                       "sm: node /Softmax: Softmax over axis 1 of a rank-3 tensor cannot be written below opset 13; use opset 13 or later")
        // Without an axis the IR means the last one (opset 13's default); opset 12 defaulted to 1, so it is spelled out.
        let c = GraphBuilder(name: "sm", parameters: ZeroParameters())
        let y = c.input("x", TensorType(.float32, [1, 3, 4]))
        c.output(try c.op("Softmax", [y]), name: "y")
        let bytes = try OnnxWriter.serialize(c.finish(), options: OnnxWriteOptions(opset: 12))
        let (g, _) = try OnnxReader.read(bytes: Data(bytes), file: "sm.onnx")
        XCTAssertEqual(try g.nodes[0].attributeView().int("axis"), -1)
        XCTAssertEqual(try OnnxWriter.serialize(g, options: OnnxWriteOptions(opset: 12)), bytes)
    }
}
