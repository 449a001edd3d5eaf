import Foundation
import XCTest
import YoloCompile

/// Runs each `PassCases/*.ir` file: parse the graph, run the passes its `// RUN:` line names, and
/// compare the changes each reported (`// CHANGES:`) and the graph text (`// CHECK:`, constants
/// without data). Every case also checks that the rewrite kept the numerics (seeded inputs, 1e-5).
final class PassCaseTests: XCTestCase {
    func testPassCases() throws {
        let dir = Repo.path("Tests/YoloCompileTests/PassCases")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".ir") }.sorted()
        XCTAssertEqual(files.count, 20)
        for file in files {
            let text = try String(contentsOfFile: dir + "/" + file, encoding: .utf8)
            let parts = text.components(separatedBy: "// CHECK:\n")
            XCTAssertEqual(parts.count, 2, "\(file): needs one // CHECK: section")
            let lines = parts[0].split(separator: "\n")
            let run = lines.first { $0.hasPrefix("// RUN:") }.map { $0.dropFirst(7).split(separator: " ").map(String.init) } ?? []
            let expectedChanges = lines.first { $0.hasPrefix("// CHANGES:") }
                .map { $0.dropFirst(11).trimmingCharacters(in: .whitespaces) } ?? ""
            let before = try GraphParser().parse(parts[0])
            var after = before
            var changes: [String] = []
            for name in run {
                let pass = try XCTUnwrap(Pass.named(name), "\(file): unknown pass \(name)")
                changes += try pass.run(&after)
                try Verifier.verify(after)
            }
            XCTAssertEqual(changes.joined(separator: "; "), expectedChanges, file)
            XCTAssertEqual(GraphPrinter(inlineLimit: 0).print(after), parts[1], file)

            var rng = SplitMix64(seed: 11)
            let inputs = before.inputs.map { v in
                Tensor(shape: before.type(of: v).shape, floats: (0..<before.type(of: v).count).map { _ in rng.nextUnitFloat() * 4 - 2 })
            }
            for (r, o) in zip(try Interpreter(before).run(inputs), try Interpreter(after).run(inputs)) {
                XCTAssertEqual(r.shape, o.shape, file)
                let scale = max(r.floats.map(abs).max() ?? 1, 1)
                XCTAssertLessThan(maxAbsDifference(r, o) / scale, 1e-5, file)
            }
        }
    }

    func testTextRoundTripsThroughParser() throws {
        let c = try Compiler.compile(configFile: Repo.sample("yolov5n"), options: CompileOptions(imageHeight: 64, imageWidth: 64))
        // Small constants (shapes, scales) print with their data; larger ones are filled from a seed.
        for g in [c.lowered.graph, c.optimized] {
            let text = g.text
            let parsed = try GraphParser(fill: SeededParameters(seed: 0)).parse(text)
            XCTAssertEqual(parsed.text, text)
            XCTAssertEqual(parsed.nodes.count, g.nodes.count)
        }
    }

    func testParserErrorsNameTheLine() {
        XCTAssertEqual(errorText { _ = try GraphParser().parse("graph \"g\" {\n  input %x: f99[1]\n}\n") },
                       "IR text line 2: unknown element type 'f99'")
        // Integers are read as integers: INT64_MAX exactly, and what no Int64 holds refused (not trapped).
        XCTAssertEqual(errorText { _ = try GraphParser().parse("graph \"g\" {\n  const %c: i64[1] = [1e30]\n}\n") },
                       "IR text line 2: '1e30' is not a 64-bit integer")
        XCTAssertEqual(try GraphParser().parse("graph \"g\" {\n  const %c: i64[1] = [9223372036854775807]\n}\n").constants.first?.value.tensor.ints, [Int64.max])
        XCTAssertEqual(errorText { _ = try GraphParser().parse("graph \"g\" {\n  %y: f32[1] = Relu(%x)\n}\n") },
                       "IR text line 2: %x is used before it is defined")
        XCTAssertEqual(errorText { _ = try GraphParser().parse("graph \"g\" {\n  input %x: f32[2]\n  %y: f32[3] = Relu(%x)\n  output %y\n}\n") },
                       "IR verifier: Relu_0 output y is typed f32[3], inferred f32[2]")
        XCTAssertEqual(errorText { _ = try GraphParser().parse("graph \"g\" {\n  input %x: i64[1,1,2,2]\n  %y: i64[1,1,2,2] = Sigmoid(%x)\n  output %y\n}\n") },
                       "IR verifier: Sigmoid_0: input 0 ('X') is int64; Sigmoid takes float, float16, double here")
        XCTAssertEqual(errorText { _ = try GraphParser().parse("graph \"g\" {\n  input %x: f32[2]\n  %x: f32[2] = Relu(%x)\n  output %x\n}\n") },
                       "IR verifier: two values are named x (Relu_0); ONNX names must be unique")
    }
}
