import Foundation

/// One output's comparison.
public struct OutputComparison: Sendable {
    public var name: String
    public var shape: [Int]
    public var maxAbs: Double
    public var relative: Double
    /// Held to equality (end-to-end NMS against the reference on the same raw output), not a tolerance.
    public var exact: Bool
    /// Where it was run: "batch 1, 640x640".
    public var at: String
}

/// What `verify` found.
public struct ParityReport: Sendable {
    public var comparisons: [OutputComparison]
    public var notes: [String]

    /// The first comparison outside its bound, described.
    public func failure(tolerance: Double) -> String? {
        for c in comparisons {
            if c.exact, c.maxAbs != 0 { return "\(c.name) at \(c.at) differs from the reference NMS (max abs error \(c.maxAbs))" }
            if !c.exact, !(c.relative <= tolerance) {
                return String(format: "%@ at %@: relative error %.3g exceeds tolerance %.3g", c.name, c.at, c.relative, tolerance)
            }
        }
        return nil
    }
}

/// `verify`'s flow: the model as the config describes it (the unfused graph, every BatchNorm as
/// written) against the file export writes (fused, passed, dynamic and with NMS as asked), written to
/// ONNX and read back, on one seeded input.
///
/// - A dynamic export runs at the exported size and at one larger in every dynamic axis, each against
///   the unfused graph built at that size.
/// - With end-to-end NMS, the raw head outputs (fused, before NMS) are held to the tolerance, and the
///   NMS outputs to `ReferenceNMS` applied to that same raw output, exactly.
public enum ParityCheck {
    public static func run(model path: String, weights: WeightsSource, options: CompileOptions, stages: ExportStages,
                           opset: Int?) throws -> ParityReport {
        let opset = stages.opset(opset)
        let c = try Compiler.compile(model: path, weights: weights, options: options, fuse: true)
        let staged = try stages.apply(to: c, options: options, fuse: true, opset: opset)
        let bytes = try OnnxWriter.serialize(staged.graph, options: OnnxWriteOptions(opset: opset, valueInfo: stages.profile.valueInfo))
        let (reimported, _) = try OnnxReader.read(bytes: Data(bytes), file: "<exported \(path)>")
        var points = [(c.lowered.graph, options)]
        if let d = staged.dynamic, let axes = staged.dynamicAxes {
            var o = options
            o.batch += 1
            if axes == .all { (o.imageHeight, o.imageWidth) = (o.imageHeight + d.quantum.height, o.imageWidth + d.quantum.width) }
            points.append((try Compiler.compile(model: path, weights: weights, options: o, fuse: true).lowered.graph, o))
        }
        var comparisons: [OutputComparison] = []
        for (reference, o) in points {
            let at = "batch \(o.batch), \(o.imageHeight)x\(o.imageWidth)"
            let input = seededInput(reference.type(of: reference.inputs[0]).shape, seed: o.seed)
            let expected = try Interpreter(reference).run([input])
            let candidate = try Interpreter(reimported).run([input])
            guard let layout = staged.layout, let nms = staged.nms else {
                comparisons += zip(reference.outputs, zip(expected, candidate)).map { v, pair in
                    compare(reference.name(of: v), pair.0, pair.1, exact: false, at: at)
                }
                continue
            }
            let raw = try Interpreter(staged.beforeNMS).run([input])
            comparisons += zip(reference.outputs, zip(expected, raw)).map { v, pair in
                compare(reference.name(of: v) + " (raw)", pair.0, pair.1, exact: false, at: at)
            }
            let reduced = try ReferenceNMS.run(raw[0], layout: layout, options: nms) + raw.dropFirst()
            comparisons += zip(reimported.outputs, zip(reduced, candidate)).map { v, pair in
                compare(reimported.name(of: v), pair.0, pair.1, exact: true, at: at)
            }
        }
        return ParityReport(comparisons: comparisons, notes: staged.notes)
    }

    /// Max abs error and max abs error / max abs reference; a shape or type mismatch is infinite.
    public static func compare(_ name: String, _ reference: Tensor, _ other: Tensor, exact: Bool, at: String) -> OutputComparison {
        var c = OutputComparison(name: name, shape: reference.shape, maxAbs: .infinity, relative: .infinity, exact: exact, at: at)
        guard reference.shape == other.shape, reference.dtype.storage == other.dtype.storage else { return c }
        var maxErr = 0.0, maxRef = 0.0
        switch reference.dtype.storage {
        case .ints:
            for (a, b) in zip(reference.ints, other.ints) {
                maxErr = max(maxErr, abs(Double(a) - Double(b)))
                maxRef = max(maxRef, abs(Double(a)))
            }
        default:
            for (a, b) in zip(reference.floatValues, other.floatValues) {
                let e = Double(abs(a - b))
                maxErr = e.isNaN || maxErr.isNaN ? .nan : max(maxErr, e)
                maxRef = max(maxRef, Double(abs(a)))
            }
        }
        c.maxAbs = maxErr
        c.relative = maxRef > 0 ? maxErr / maxRef : maxErr
        return c
    }
}

/// A uniform [0, 1) image, like a normalised photo, the same for a seed and shape on every machine.
public func seededInput(_ shape: [Int], seed: UInt64) -> Tensor {
    var rng = SplitMix64(seed: seed ^ 0x1D_BA5E)
    return Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in rng.nextUnitFloat() })
}
