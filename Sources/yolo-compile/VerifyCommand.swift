import ArgumentParser
import Foundation
import YoloCompile

struct VerifyCommand: ParsableCommand, MemoryLimited {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that the exported model computes what the config describes.",
        discussion: """
        Compiles the config, runs the interpreter on the unfused graph (every BatchNorm as written) and on the \
        fused model after an ONNX export and re-import, with one seeded input, and prints the maximum absolute \
        error and the relative error (max abs error / max abs reference) per output. Exits 1 when the relative \
        error is above the tolerance.
        """)

    @OptionGroup var resources: ResourceOptions

    @OptionGroup var model: ModelOptions

    @Option(help: "ONNX opset for the round trip.")
    var opset: Int = 17

    @Option(help: "Largest accepted relative error.")
    var tolerance: Double = 1e-4

    func validate() throws {
        guard tolerance.isFinite, tolerance > 0 else { throw ValidationError("--tolerance must be a positive, finite number, got \(tolerance)") }
        guard Opset.supported.contains(opset) else {
            throw ValidationError("--opset must be between \(Opset.supported.lowerBound) and \(Opset.supported.upperBound), got \(opset)")
        }
    }

    func run() throws {
        try reportingErrors {
            let c = try compile(model, fuse: true)
            let bytes = try OnnxWriter.serialize(c.optimized, options: OnnxWriteOptions(opset: opset))
            let (reimported, _) = try OnnxReader.read(bytes: Data(bytes), file: "<exported \(model.config)>")
            let input = seededInput(c.lowered.graph.type(of: c.lowered.graph.inputs[0]).shape, seed: model.seed)
            let reference = try Interpreter(c.lowered.graph).run([input])
            let candidate = try Interpreter(reimported).run([input])
            var worst = 0.0
            for (i, (r, o)) in zip(reference, candidate).enumerated() {
                let e = compare(r, o)
                worst = max(worst, e.rel)
                print(String(format: "output%d %@: max abs error %.3g, relative %.3g", i, "\(r.shape)", e.abs, e.rel))
            }
            guard worst <= tolerance else {
                throw VerificationFailure(message: String(format: "relative error %.3g exceeds tolerance %.3g", worst, tolerance))
            }
            print("verify: ok (tolerance \(tolerance))")
        }
    }
}

struct VerificationFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { "verify: \(message)" }
}

/// Uniform [0, 1) image, like a normalised photo.
func seededInput(_ shape: [Int], seed: UInt64) -> Tensor {
    var rng = SplitMix64(seed: seed ^ 0x1D_BA5E)
    return Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in rng.nextUnitFloat() })
}

func compare(_ reference: Tensor, _ other: Tensor) -> (abs: Double, rel: Double) {
    var maxErr = 0.0, maxRef = 0.0
    for (a, b) in zip(reference.floats, other.floats) {
        maxErr = max(maxErr, Double(abs(a - b)))
        maxRef = max(maxRef, Double(abs(a)))
    }
    if reference.shape != other.shape { return (.infinity, .infinity) }
    return (maxErr, maxRef > 0 ? maxErr / maxRef : maxErr)
}
