import XCTest
import YoloCompile

/// The interpreter's transformer kernels on small tensors whose results are worked out by hand.
final class KernelTests: XCTestCase {
    /// Builds `op(inputs...)` as a one-node graph over runtime inputs and constants, and runs it.
    func run(_ op: String, _ inputs: [Tensor], constants: [Tensor?] = [], _ attributes: [String: Attribute] = [:]) throws -> Tensor {
        let b = GraphBuilder(name: "k", parameters: ZeroParameters())
        var args: [ValueID?] = inputs.enumerated().map { b.input("x\($0.offset)", TensorType(.float32, $0.element.shape)) }
        args += constants.map { $0.map(b.constant) }
        b.output(try b.op(op, args, attributes), name: "y")
        return try Interpreter(b.finish()).run(inputs)[0]
    }

    func testMatMulBroadcastsBatchAxes() throws {
        let a = Tensor(shape: [2, 1, 2, 3], floats: [1, 2, 3, 4, 5, 6, 0, 1, 0, 1, 0, 1])
        let b = Tensor(shape: [2, 3, 1], floats: [1, 0, -1, 2, 2, 2])
        let y = try run("MatMul", [a, b])
        XCTAssertEqual(y.shape, [2, 2, 2, 1])
        // a[0] @ b[0] = [1-3, 4-6], a[0] @ b[1] = [12, 30], a[1] @ b[0] = [0, 0], a[1] @ b[1] = [2, 4]
        XCTAssertEqual(y.floats, [-2, -2, 12, 30, 0, 0, 2, 4])
    }

    func testSoftmaxOverLastAxisIsStableForLargeValues() throws {
        let y = try run("Softmax", [Tensor(shape: [2, 2], floats: [0, Float(log(3.0)), 1000, 1000])], ["axis": .int(-1)])
        XCTAssertEqual(y.floats[0], 0.25, accuracy: 1e-6)
        XCTAssertEqual(y.floats[1], 0.75, accuracy: 1e-6)
        XCTAssertEqual(y.floats[2], 0.5, accuracy: 1e-6)
    }

    func testLayerNormalizationOverLastAxis() throws {
        // Row [1, 3]: mean 2, variance 1 -> [-1, 1] / sqrt(1 + eps), then * [2, 3] + [0.5, 0].
        let y = try run("LayerNormalization", [Tensor(shape: [1, 2], floats: [1, 3])],
                        constants: [Tensor(shape: [2], floats: [2, 3]), Tensor(shape: [2], floats: [0.5, 0])],
                        ["axis": .int(-1), "epsilon": .float(0)])
        XCTAssertEqual(y.floats, [-1.5, 3])
    }

    func testPadConstantBottomRight() throws {
        let y = try run("Pad", [Tensor(shape: [1, 1, 2, 2], floats: [1, 2, 3, 4])],
                        constants: [.vector([0, 0, 0, 0, 0, 0, 1, 2])])
        XCTAssertEqual(y.shape, [1, 1, 3, 4])
        XCTAssertEqual(y.floats, [1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0])
    }

    func testReduceMeanAndGlobalAveragePool() throws {
        let x = Tensor(shape: [1, 2, 2], floats: [1, 2, 3, 6])
        XCTAssertEqual(try run("ReduceMean", [x], constants: [.vector([-1])], ["keepdims": .int(1)]).floats, [1.5, 4.5])
        XCTAssertEqual(try run("ReduceMean", [x], constants: [.vector([1])], ["keepdims": .int(0)]).floats, [2, 4])
        let p = try run("GlobalAveragePool", [Tensor(shape: [1, 2, 1, 2], floats: [1, 2, 3, 6])])
        XCTAssertEqual(p.shape, [1, 2, 1, 1])
        XCTAssertEqual(p.floats, [1.5, 4.5])
    }

    func testDepthwiseConvMatchesHandComputedStride2() throws {
        // 1 channel 3x3 input, 3x3 kernel of ones, pad 1, stride 2: sums of the clipped windows.
        let y = try run("Conv", [Tensor(shape: [1, 1, 3, 3], floats: [1, 2, 3, 4, 5, 6, 7, 8, 9])],
                        constants: [Tensor(shape: [1, 1, 3, 3], floats: [Float](repeating: 1, count: 9)), nil],
                        ["group": .int(1), "kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2])])
        XCTAssertEqual(y.floats, [12, 16, 24, 28])
        // Two channels, group 2: the direct depthwise path.
        let z = try run("Conv", [Tensor(shape: [1, 2, 2, 2], floats: [1, 2, 3, 4, 1, 1, 1, 1])],
                        constants: [Tensor(shape: [2, 1, 1, 2], floats: [1, -1, 2, 3]), Tensor(shape: [2], floats: [0.5, 0])],
                        ["group": .int(2), "kernel_shape": .ints([1, 2]), "pads": .ints([0, 0, 0, 0]), "strides": .ints([1, 1])])
        XCTAssertEqual(z.shape, [1, 2, 2, 1])
        XCTAssertEqual(z.floats, [-0.5, -0.5, 5, 5])
    }

    func testPadOfIntegersKeepsTheirType() throws {
        let b = GraphBuilder(name: "k", parameters: ZeroParameters())
        let x = b.input("x", TensorType(.int64, [2]))
        b.output(try b.op("Pad", [x, b.constant(ints: [1, 2])]), name: "y")
        let y = try Interpreter(b.finish()).run([Tensor(shape: [2], ints: [7, -3])])[0]
        XCTAssertEqual(y, Tensor(shape: [5], ints: [0, 7, -3, 0, 0]))
    }
}
