// Resize in every mode and coordinate transformation ONNX defines (opsets 11-19); Resize-10 and
// Upsample are rewritten to it on import (OpsetLegalization).

extension Operators {
    static let resize: [OperatorSchema] = [
        OperatorSchema("Resize", versions: [10, 11, 13, 18, 19],
                       attributes: [
                           .int("antialias", 0), .ints("axes"),
                           .string("coordinate_transformation_mode", "half_pixel",
                                   allowed: ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
                                             "tf_crop_and_resize", "tf_half_pixel_for_nn"]),
                           .float("cubic_coeff_a", -0.75), .int("exclude_outside", 0), .float("extrapolation_value", 0),
                           .string("keep_aspect_ratio_policy", "stretch", allowed: ["stretch", "not_larger", "not_smaller"]),
                           .string("mode", "nearest", allowed: ["nearest", "linear", "cubic"]),
                           .string("nearest_mode", "round_prefer_floor", allowed: ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]),
                       ],
                       inputs: [.input("X", "T1"), .input("roi", "T2", .optional), .value("scales", "F", .optional), .value("sizes", "I", .optional)],
                       outputs: [.output("Y", "T1")], types: ["T1": .all, "T2": .floats, "F": .float32, "I": .int64],
                       infer: resizeRule, kernel: Kernels.resize),
    ]

    /// Per axis of X: the output size and the scale factor the coordinate transformation uses.
    public struct ResizePlan: Sendable {
        public var sizes: [Int]
        public var scales: [Double]
        /// The axes resized (all of X's unless `axes` names some).
        public var axes: [Int]
    }

    static func resizePlan(_ a: AttributeView, input x: [Int], scales: Tensor?, sizes: Tensor?, fail: (String) -> any Error) throws -> ResizePlan {
        let r = x.count
        let axes = try (a.ints("axes") ?? Array(0..<r)).map { v -> Int in
            let n = v < 0 ? v + r : v
            guard n >= 0 && n < r else { throw fail("axis \(v) is out of range for rank \(r)") }
            return n
        }
        guard Set(axes).count == axes.count else { throw fail("axes \(axes) repeat an axis") }
        let scales = scales.flatMap { $0.count == 0 ? nil : $0 }, sizes = sizes.flatMap { $0.count == 0 ? nil : $0 }
        var outSizes = x
        var factors = [Double](repeating: 1, count: r)
        switch (scales, sizes) {
        case (nil, let s?):
            let v = s.intValues
            guard v.count == axes.count, v.allSatisfy({ $0 >= 0 && $0 < 1 << 28 }) else {
                throw fail("sizes \(v) must hold \(axes.count) non-negative sizes")
            }
            for (j, ax) in axes.enumerated() where x[ax] == 0 && v[j] != 0 { throw fail("cannot resize the empty axis \(ax) to \(v[j])") }
            let policy = a.string("keep_aspect_ratio_policy")
            if policy == "stretch" {
                for (j, ax) in axes.enumerated() {
                    outSizes[ax] = v[j]
                    factors[ax] = x[ax] == 0 ? 1 : Double(v[j]) / Double(x[ax])
                }
            } else {
                let ratios = axes.enumerated().map { Double(v[$0.offset]) / Double(Swift.max(x[$0.element], 1)) }
                let s = policy == "not_larger" ? ratios.min() ?? 1 : ratios.max() ?? 1
                for ax in axes {
                    factors[ax] = s
                    outSizes[ax] = Int(s * Double(x[ax]) + 0.5)
                }
            }
        case (let s?, nil):
            let v = s.doubleValues
            guard v.count == axes.count, v.allSatisfy({ $0.isFinite && $0 > 0 && $0 < 65536 }) else {
                throw fail("scales \(v) must hold \(axes.count) positive, finite values")
            }
            guard a.string("keep_aspect_ratio_policy") == "stretch" else {
                throw fail("keep_aspect_ratio_policy applies to sizes only; scales were given")
            }
            for (j, ax) in axes.enumerated() {
                factors[ax] = v[j]
                outSizes[ax] = Int((v[j] * Double(x[ax])).rounded(.down))
            }
        case (nil, nil): throw fail("give scales or sizes")
        case (.some, .some): throw fail("give scales or sizes, not both")
        }
        guard ShapeInference.elementCount(outSizes) != nil else { throw fail("output \(outSizes) is too large") }
        return ResizePlan(sizes: outSizes, scales: factors, axes: axes)
    }

    static func resizeRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0)
        let a = ctx.attributes
        if a.string("mode") != "nearest", try ctx.type(0).dtype.storage == .ints {
            throw ctx.fail("\(a.string("mode")) interpolation of \(try ctx.type(0).dtype.onnxName) is not supported (nearest is)")
        }
        if a.int("antialias") != 0, a.string("mode") == "nearest" { throw ctx.fail("antialias applies to linear and cubic modes, not nearest") }
        if a.int("exclude_outside") != 0, a.string("mode") == "nearest" {
            // Leaves a position whose nearest neighbour is outside with no weight at all: undefined.
            throw ctx.fail("attribute 'exclude_outside' 1 with mode 'nearest' is not defined (it applies to interpolation weights)")
        }
        if a.string("coordinate_transformation_mode") == "tf_crop_and_resize" {
            guard ctx.has(1) else { throw ctx.fail("coordinate_transformation_mode tf_crop_and_resize needs roi (input 1)") }
        }
        let plan = try resizePlan(a, input: x, scales: ctx.optionalValue(2), sizes: ctx.optionalValue(3), fail: ctx.fail)
        return [try ctx.output(0, plan.sizes)]
    }
}
