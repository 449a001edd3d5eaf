import XCTest
import YoloCompile

/// Each pass on a small graph: the text that comes out, numerics kept, and the cases it must leave alone.
final class PassTests: XCTestCase {
    /// Conv(2->2, 1x1) -> BatchNorm, with optional extra reader of the conv output.
    func convBN(extraUse: Bool = false) throws -> Graph {
        let b = GraphBuilder(name: "t", parameters: SeededParameters(seed: 7))
        let x = b.input("x", TensorType(.float32, [1, 2, 3, 3]))
        let y = try b.scoped("m") {
            let c = try b.scoped("conv") { try lowerConv2d(b, x, c1: 2, c2: 2, k: 1, bias: false) }
            let n = try b.scoped("bn") { try lowerBatchNorm2d(b, c, c: 2) }
            return extraUse ? try b.op("Add", [n, c]) : n
        }
        b.output(y, name: "y")
        return b.finish()
    }

    func input(_ shape: [Int]) -> Tensor {
        var rng = SplitMix64(seed: 3)
        return Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in rng.nextUnitFloat() * 4 - 2 })
    }

    func testFuseConvBatchNorm() throws {
        let g0 = try convBN()
        var g = g0
        let changes = try Pass.fuseConvBatchNorm.run(&g)
        _ = try Pass.deadCodeElimination.run(&g)
        try Verifier.verify(g)
        XCTAssertEqual(changes, ["/m/bn/BatchNormalization folded into /m/conv/Conv"])
        XCTAssertEqual(GraphPrinter(inlineLimit: 0).print(g), """
        graph "t" {
          input %x: f32[1,2,3,3]
          param %m.conv.weight: f32[2,2,1,1]
          param %m.conv.bias: f32[2]
          %y: f32[1,2,3,3] = Conv(%x, %m.conv.weight, %m.conv.bias) {dilations=[1,1], group=1, kernel_shape=[1,1], pads=[0,0,0,0], strides=[1,1]}  # /m/conv/Conv
          output %y
        }

        """)
        let x = input([1, 2, 3, 3])
        XCTAssertLessThan(maxAbsDifference(try Interpreter(g0).run([x])[0], try Interpreter(g).run([x])[0]), 1e-5)
    }

    func testFuseLeavesConvWithOtherReaders() throws {
        var g = try convBN(extraUse: true)
        XCTAssertEqual(try Pass.fuseConvBatchNorm.run(&g), [])
        XCTAssertEqual(g.nodes.map(\.op), ["Conv", "BatchNormalization", "Add"])
    }

    func testReplaceBatchNormMakesExactScaleAndShift() throws {
        let b = GraphBuilder(name: "t", parameters: SeededParameters(seed: 1))
        let x = b.input("x", TensorType(.float32, [1, 3, 2, 2]))
        let n = try b.scoped("bn") { try lowerBatchNorm2d(b, x, c: 3) }
        let y = try b.op("Sigmoid", [n])
        b.output(y, name: "y")
        let g0 = b.finish()
        var g = g0
        XCTAssertEqual(try Pass.replaceBatchNorm.run(&g), ["/bn/BatchNormalization became a per-channel scale and shift"])
        _ = try Pass.deadCodeElimination.run(&g)
        try Verifier.verify(g)
        XCTAssertEqual(g.nodes.map(\.op), ["Mul", "Add", "Sigmoid"])
        XCTAssertEqual(g.constantElementCount(kinds: [.parameter]), 6)
        let t = input([1, 3, 2, 2])
        XCTAssertLessThan(maxAbsDifference(try Interpreter(g0).run([t])[0], try Interpreter(g).run([t])[0]), 1e-6)
    }

    func testReplaceBatchNormFoldsIntoFollowingUnpaddedConv() throws {
        let b = GraphBuilder(name: "t", parameters: SeededParameters(seed: 2))
        let x = b.input("x", TensorType(.float32, [1, 3, 4, 4]))
        let n = try b.scoped("bn") { try lowerBatchNorm2d(b, x, c: 3) }
        let y = try b.scoped("conv") { try lowerConv2d(b, n, c1: 3, c2: 2, k: 3, bias: true) }
        b.output(y, name: "y")
        let g0 = b.finish()
        var g = g0
        XCTAssertEqual(try Pass.replaceBatchNorm.run(&g), ["/bn/BatchNormalization folded into the following /conv/Conv"])
        _ = try Pass.deadCodeElimination.run(&g)
        try Verifier.verify(g)
        XCTAssertEqual(g.nodes.map(\.op), ["Conv"])
        let t = input([1, 3, 4, 4])
        XCTAssertLessThan(maxAbsDifference(try Interpreter(g0).run([t])[0], try Interpreter(g).run([t])[0]), 1e-5)
    }

    func testConstantFoldingAndIdentityElimination() throws {
        let b = GraphBuilder(name: "t", parameters: SeededParameters(seed: 0))
        let x = b.input("x", TensorType(.float32, [1, 2]))
        _ = try b.op("Shape", [x])  // dead once folded: the fold is what is checked
        let c = try b.op("Mul", [b.constant(scalar: 2), b.constant(scalar: 3)])
        let r = try b.op("Transpose", [x], ["perm": .ints([0, 1])])
        let y = try b.op("Mul", [r, c])
        let z = try b.op("Identity", [y])
        b.output(z, name: "z")
        var g = b.finish()
        XCTAssertEqual(try Pass.constantFolding.run(&g), ["folded /Shape", "folded /Mul"])
        XCTAssertEqual(try Pass.identityElimination.run(&g), ["removed /Transpose", "removed /Identity"])
        _ = try Pass.deadCodeElimination.run(&g)
        try Verifier.verify(g)
        XCTAssertEqual(GraphPrinter().print(g), """
        graph "t" {
          input %x: f32[1,2]
          const %/Mul_output_0: f32[] = [6.0]
          %z: f32[1,2] = Mul(%x, %/Mul_output_0)  # /Mul_1
          output %z
        }

        """)
    }

    func testVerifierCatchesUseBeforeDefinition() throws {
        var g = try convBN()
        g.nodes.reverse()
        XCTAssertEqual(errorText { try Verifier.verify(g) }, "IR verifier: /m/bn/BatchNormalization reads /m/conv/Conv_output_0 before it is defined")
    }
}
