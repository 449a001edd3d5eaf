// Normalisations: BatchNormalization (inference), InstanceNormalization, GroupNormalization,
// LayerNormalization (with its Mean and InvStdDev outputs), LRN, MeanVarianceNormalization.

extension Operators {
    static let normalization: [OperatorSchema] = [
        with(OperatorSchema("BatchNormalization", versions: [1, 6, 7, 9, 14, 15],
                            attributes: [.float("epsilon", 1e-5), .float("momentum", 0.9), .int("training_mode", 0)],
                            inputs: [.input("X", "T"), .input("scale", "T1"), .input("B", "T1"), .input("input_mean", "T2"), .input("input_var", "T2")],
                            outputs: [.output("Y", "T"), .output("running_mean", "T2", .optional), .output("running_var", "T2", .optional)],
                            types: ["T": .floats, "T1": .floats, "T2": .floats], infer: batchNormRule, kernel: Kernels.batchNorm)) {
            // thop counts 2 operations per element of an eval-mode BatchNorm (x2 as YOLOv5 reports).
            $0.flops = { q in 4 * Double(q.outputTypes[0].count) }
        },
        OperatorSchema("InstanceNormalization", versions: [1, 6], attributes: [.float("epsilon", 1e-5)],
                       inputs: [.input("input", "T"), .input("scale", "T"), .input("B", "T")], outputs: [.output("output", "T", shape: .sameAs(0))],
                       types: ["T": .floats], infer: channelParametersRule, kernel: Kernels.instanceNorm),
        OperatorSchema("GroupNormalization", versions: [18, 21],
                       attributes: [.float("epsilon", 1e-5), .requiredInt("num_groups"), .int("stash_type", 1)],
                       inputs: [.input("X", "T"), .input("scale", "T"), .input("bias", "T")], outputs: [.output("Y", "T", shape: .sameAs(0))],
                       types: ["T": .floats], infer: groupNormRule, kernel: Kernels.groupNorm),
        with(OperatorSchema("LayerNormalization", versions: [17],
                            attributes: [.int("axis", -1), .float("epsilon", 1e-5), .int("stash_type", 1)],
                            inputs: [.input("X", "T"), .input("Scale", "T"), .input("B", "T", .optional)],
                            outputs: [.output("Y", "T"), .output("Mean", .float32, .optional), .output("InvStdDev", .float32, .optional)],
                            types: ["T": .floats], infer: layerNormRule, kernel: Kernels.layerNorm)) { $0.traits = .reusesInput },
        with(OperatorSchema("LRN", versions: [1, 13], attributes: [.float("alpha", 1e-4), .float("beta", 0.75), .float("bias", 1), .requiredInt("size")],
                       inputs: [.input("X", "T")], outputs: [.output("Y", "T", shape: .sameAs(0))],
                       types: ["T": .floats], infer: lrnRule, kernel: Kernels.lrn)) {
            $0.multiplyAdds = { inputs, _, a in Double(inputs[0].count) * Double(max(a.int("size"), 1)) }
        },
        OperatorSchema("MeanVarianceNormalization", versions: [9, 13], attributes: [.ints("axes")],
                       inputs: [.input("X", "T")], outputs: [.output("Y", "T", shape: .sameAs(0))],
                       types: ["T": .floats], infer: mvnRule, kernel: Kernels.meanVarianceNorm),
    ]

    /// Inference form, or training mode (opset 14): normalised by the batch's own mean and (population)
    /// variance, with the updated running statistics as the optional outputs.
    static func batchNormRule(_ ctx: ShapeContext) throws -> [TensorType] {
        guard ctx.attributes.int("training_mode") != 0 || ctx.outputCount == 1 else {
            throw ctx.fail("running_mean and running_var are outputs of training mode only")
        }
        let x = try ctx.shape(0)
        guard x.count >= 2 else { throw ctx.fail("expected at least a 2-D input, got \(try ctx.type(0))") }
        for i in 1...4 {
            guard try ctx.shape(i) == [x[1]] else {
                throw ctx.fail("input \(i) is \(try ctx.type(i)), expected [\(x[1])] for \(x[1]) channels")
            }
        }
        return try (0..<ctx.outputCount).map { try ctx.output($0, $0 == 0 ? x : [x[1]]) }
    }

    /// scale and bias of shape (C).
    static func channelParametersRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0)
        guard x.count >= 3 else { throw ctx.fail("expected an input of rank 3 or more, got \(try ctx.type(0))") }
        for i in 1...2 where try ctx.shape(i) != [x[1]] {
            throw ctx.fail("input \(i) is \(try ctx.type(i)), expected [\(x[1])]")
        }
        return [try ctx.output(0, x)]
    }

    static func groupNormRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0)
        let g = ctx.attributes.int("num_groups")
        guard x.count >= 2, g >= 1, x[1] % g == 0 else {
            throw ctx.fail("num_groups \(g) does not divide the \(x.count >= 2 ? x[1] : 0) channels of \(try ctx.type(0))")
        }
        for i in 1...2 where try ctx.shape(i) != [x[1]] {
            throw ctx.fail("input \(i) is \(try ctx.type(i)), expected [\(x[1])] (one per channel, as opset 21 defines it)")
        }
        return [try ctx.output(0, x)]
    }

    /// Normalises over the axes from `axis` on; Scale and B broadcast to those axes. Mean and InvStdDev
    /// keep X's rank with the normalised axes of size 1.
    static func layerNormRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0)
        let axis = try ctx.axis(ctx.attributes.int("axis"), rank: x.count)
        guard ctx.attributes.int("stash_type") == 1 else { throw ctx.fail("attribute 'stash_type' must be 1 (float32)") }
        let normalized = Array(x[axis...])
        for i in 1..<min(ctx.inputTypes.count, 3) where ctx.has(i) {
            let t = try ctx.shape(i)
            guard ShapeRules.broadcast(normalized, t) == normalized else {
                throw ctx.fail("input \(i) is \(try ctx.type(i)); expected shape \(normalized) for axis \(axis) of \(try ctx.type(0))")
            }
        }
        let stats = Array(x[..<axis]) + [Int](repeating: 1, count: x.count - axis)
        return try (0..<ctx.outputCount).map { try ctx.output($0, $0 == 0 ? x : stats) }
    }

    static func lrnRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        guard x.rank >= 3 else { throw ctx.fail("expected an input of rank 3 or more, got \(x)") }
        guard ctx.attributes.int("size") >= 1 else { throw ctx.fail("attribute 'size' must be positive") }
        return [x]
    }

    static func mvnRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        let axes = ctx.attributes.ints("axes") ?? [0, 2, 3]
        if x.rank >= 0 {
            let norm = try axes.map { try ctx.axis($0, rank: x.rank) }
            guard Set(norm).count == norm.count else { throw ctx.fail("axes \(axes) repeat an axis") }
        }
        return [x]
    }
}
