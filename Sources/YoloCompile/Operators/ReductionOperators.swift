// Reductions over axes (Reduce*), the softmax family along one axis, and CumSum.

extension Operators {
    static let reduction: [OperatorSchema] = [
        reduce("ReduceMax", [1, 11, 12, 13, 18, 20], TypeSet([.float32, .float16, .float64, .int8, .uint8, .int32, .int64, .uint32, .uint64]).union(.bool)),
        reduce("ReduceMin", [1, 11, 12, 13, 18, 20], TypeSet([.float32, .float16, .float64, .int8, .uint8, .int32, .int64, .uint32, .uint64]).union(.bool)),
        reduce("ReduceSum", [1, 11, 13], .numeric),
        reduce("ReduceProd", [1, 11, 13, 18], .numeric),
        reduce("ReduceMean", [1, 11, 13, 18], .numeric),
        reduce("ReduceSumSquare", [1, 11, 13, 18], .numeric),
        reduce("ReduceL1", [1, 11, 13, 18], .numeric),
        reduce("ReduceL2", [1, 11, 13, 18], .floats),
        reduce("ReduceLogSum", [1, 11, 13, 18], .floats),
        reduce("ReduceLogSumExp", [1, 11, 13, 18], .floats),
        with(softmaxFamily("Softmax", Kernels.softmax)) { $0.traits = .reusesInput },
        softmaxFamily("LogSoftmax", Kernels.logSoftmax),
        softmaxFamily("Hardmax", Kernels.hardmax),
        OperatorSchema("CumSum", versions: [11, 14], attributes: [.int("exclusive", 0), .int("reverse", 0)],
                       inputs: [.input("x", "T"), .input("axis", "T2")], outputs: [.output("y", "T", shape: .sameAs(0))],
                       types: ["T": .numeric, "T2": .int32or64], infer: cumSumRule, kernel: Kernels.cumSum),
    ]

    /// The IR's (opset 18) form: axes as an optional input; no axes reduces all, unless
    /// noop_with_empty_axes says to return the input.
    static func reduce(_ name: String, _ versions: [Int], _ types: TypeSet) -> OperatorSchema {
        with(OperatorSchema(name, versions: versions, attributes: [.int("keepdims", 1), .int("noop_with_empty_axes", 0)],
                            inputs: [.input("data", "T"), .value("axes", "A", .optional)], outputs: [.output("reduced", "T")],
                            types: ["T": types, "A": .int64], infer: reduceRule, kernel: Kernels.reduce(name))) {
            $0.isIdentity = { q in
                // Reducing nothing, or size-1 axes kept, returns the input.
                guard let x = q.inputTypes[0], x.isStatic, q.outputTypes[0] == x else { return false }
                return q.node.op != "ReduceSumSquare" && q.node.op != "ReduceL1" && q.node.op != "ReduceL2"
                    && q.node.op != "ReduceLogSum" && q.node.op != "ReduceLogSumExp"
                    && (q.constants.count < 2 || q.constants[1] != nil)
            }
        }
    }

    /// The reduced axes, normalised and sorted. No axes reduce every axis, unless noop_with_empty_axes
    /// says to reduce none: then each element is its own group, so ReduceSumSquare still squares and
    /// ReduceLogSum still takes the log, as opset 18 defines it.
    static func reduceAxes(_ attributes: AttributeView, axes: Tensor?, rank: Int, fail: (String) -> any Error) throws -> [Int] {
        let given = axes?.intValues ?? []
        if given.isEmpty { return attributes.int("noop_with_empty_axes") != 0 ? [] : Array(0..<rank) }
        var norm: [Int] = []
        for a in given {
            let n = a < 0 ? a + rank : a
            guard n >= 0 && n < rank else { throw fail("axis \(a) is out of range for rank \(rank)") }
            guard !norm.contains(n) else { throw fail("axes \(given) repeat an axis") }
            norm.append(n)
        }
        return norm.sorted()
    }

    static func reduceRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0)
        let axes = try reduceAxes(ctx.attributes, axes: ctx.optionalValue(1), rank: x.count, fail: ctx.fail)
        let keep = ctx.attributes.int("keepdims") != 0
        var out: [Int] = []
        for (i, d) in x.enumerated() {
            if axes.contains(i) {
                if keep { out.append(1) }
            } else {
                out.append(d)
            }
        }
        return [try ctx.output(0, out)]
    }

    /// The IR's (opset 13) form: along one axis. Older opsets' flatten-to-2-D semantics are rewritten on
    /// import (OpsetLegalization).
    static func softmaxFamily(_ name: String, _ kernel: @escaping Kernel) -> OperatorSchema {
        OperatorSchema(name, versions: [1, 11, 13], attributes: [.int("axis", -1)], inputs: [.input("input", "T")],
                       outputs: [.output("output", "T", shape: .sameAs(0))], types: ["T": .floats], infer: { ctx in
                           let x = try ctx.type(0)
                           if x.rank >= 0 { _ = try ctx.axis(ctx.attributes.int("axis"), rank: x.rank) }
                           return [x]
                       }, kernel: kernel)
    }

    static func cumSumRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let axis = try ctx.type(1)
        guard axis.rank <= 1, axis.staticShape.map({ $0.reduce(1, *) == 1 }) ?? true else {
            throw ctx.fail("input 1 ('axis') must be a scalar, got \(axis)")
        }
        return [try ctx.type(0)]
    }
}
