import Foundation
import XCTest
import YoloCompile

/// Hostile input must give an error, never a crash: corrupted ONNX bytes through the reader and,
/// when they still parse, the interpreter.
final class RobustnessTests: XCTestCase {
    func testCorruptedModelsNeverCrash() throws {
        let c = try Compiler.compile(configFile: Repo.fixture("legacy-modules.yaml"), options: CompileOptions(imageHeight: 32, imageWidth: 32))
        let bytes = try OnnxWriter.serialize(c.optimized)
        let x = Tensor.zeros([1, 3, 32, 32])
        var rng = SplitMix64(seed: 2024)
        var parsed = 0, ran = 0
        for i in 0..<600 {
            var b = bytes
            if i % 4 == 0 {
                b = Array(b.prefix(Int(rng.next() % UInt64(b.count))))
            } else {
                for _ in 0..<(1 + Int(rng.next() % 6)) {
                    // Most flips land in the node section at the front, where structure lives.
                    let span = i % 2 == 0 ? min(b.count, 8000) : b.count
                    b[Int(rng.next() % UInt64(span))] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            guard let (g, _) = try? OnnxReader.read(bytes: Data(b), file: "m.onnx") else { continue }
            parsed += 1
            if (try? Interpreter(g).run([x])) != nil { ran += 1 }
        }
        // Most single-byte flips in weights still give a runnable model; truncations never parse.
        print("corrupted models: \(parsed) of 600 parsed, \(ran) ran")
        XCTAssertGreaterThan(parsed, 50)
        XCTAssertGreaterThan(ran, 25)
    }

    func testInterpreterRejectsWrongInputs() throws {
        let c = try Compiler.compile(configFile: Repo.fixture("legacy-modules.yaml"), options: CompileOptions(imageHeight: 32, imageWidth: 32))
        let run = try Interpreter(c.optimized)
        XCTAssertEqual(errorText { _ = try run.run([Tensor.zeros([1, 3, 16, 16])]) },
                       "interpreter: images: input has shape [1, 3, 16, 16], the model expects [1, 3, 32, 32]")
        XCTAssertEqual(errorText { _ = try run.run([Tensor(shape: [1, 3, 32, 32], ints: [Int64](repeating: 0, count: 3072))]) },
                       "interpreter: images: input has element type i64, the model expects f32")
        XCTAssertEqual(errorText { _ = try run.run([]) }, "interpreter: legacy-modules: the model has 1 inputs, 0 given")
    }

    func testLegacyModulesKeepNumericsThroughFusion() throws {
        let c = try Compiler.compile(configFile: Repo.fixture("legacy-modules.yaml"), options: CompileOptions(imageHeight: 64, imageWidth: 64))
        // BottleneckCSP's BN over cat(cv3, cv2) is split and folded into those convs; the bare
        // nn.BatchNorm2d (no conv before it) becomes scale-and-shift.
        XCTAssertFalse(c.optimized.nodes.contains { $0.op == "BatchNormalization" })
        XCTAssertEqual(c.reports.first { $0.pass == "split-batchnorm-over-concat" }?.changes.count, 1)
        XCTAssertEqual(c.reports.first { $0.pass == "replace-batchnorm" }?.changes.count, 1)
        var rng = SplitMix64(seed: 5)
        let x = Tensor(shape: [1, 3, 64, 64], floats: (0..<(3 * 64 * 64)).map { _ in rng.nextUnitFloat() })
        let a = try Interpreter(c.lowered.graph).run([x])[0], b = try Interpreter(c.optimized).run([x])[0]
        XCTAssertEqual(a.shape, [1, 16 * 16 + 32 * 32, 7])  // one anchor per cell at strides 4 and 2
        XCTAssertLessThan(maxAbsDifference(a, b) / (a.floats.map(abs).max() ?? 1), 1e-5)
    }
}
