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
        error is above the tolerance. With --dynamic the file also runs one step larger in every dynamic \
        axis, against the unfused graph built there; with --nms the raw head outputs are held to the \
        tolerance and the NMS outputs to a reference NMS on the same raw output, exactly.
        """)

    @OptionGroup var resources: ResourceOptions

    @OptionGroup var model: ModelOptions

    @Option(help: "ONNX opset for the round trip (default 17, or the nearest the --target takes).")
    var opset: Int?

    @OptionGroup var stages: ExportStageOptions

    @Option(help: "Largest accepted relative error.")
    var tolerance: Double = 1e-4

    func validate() throws {
        guard tolerance.isFinite, tolerance > 0 else { throw ValidationError("--tolerance must be a positive, finite number, got \(tolerance)") }
        if let opset, !Opset.supported.contains(opset) {
            throw ValidationError("--opset must be between \(Opset.supported.lowerBound) and \(Opset.supported.upperBound), got \(opset)")
        }
    }

    func run() throws {
        try reportingErrors {
            let weights: WeightsSource = model.weights.map { .file($0, partial: model.partialWeights) } ?? .seeded
            let report = try ParityCheck.run(model: model.config, weights: weights, options: model.compileOptions,
                                             stages: stages.stages, opset: opset)
            report.notes.forEach(note)
            for c in report.comparisons {
                let bound = c.exact ? "exact" : String(format: "relative %.3g", c.relative)
                say(String(format: "%@ %@ (%@): max abs error %.3g, %@", c.name, "\(c.shape)", c.at, c.maxAbs, bound))
            }
            if let failure = report.failure(tolerance: tolerance) { throw VerificationFailure(message: failure) }
            say("verify: ok (tolerance \(tolerance))")
        }
    }
}

struct VerificationFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { "verify: \(message)" }
}

