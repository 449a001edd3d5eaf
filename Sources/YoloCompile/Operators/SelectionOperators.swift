// Selecting elements by value: ArgMax, ArgMin, TopK, NonZero.

extension Operators {
    static let selection: [OperatorSchema] = [
        argReduce("ArgMax"),
        argReduce("ArgMin"),
        OperatorSchema("TopK", versions: [1, 10, 11], attributes: [.int("axis", -1), .int("largest", 1), .int("sorted", 1)],
                       inputs: [.input("X", "T"), .value("K", "I")], outputs: [.output("Values", "T"), .output("Indices", .int64)],
                       types: ["T": .numeric, "I": .int64], infer: topKRule, kernel: Kernels.topK),
        with(OperatorSchema("NonZero", versions: [9, 13], inputs: [.value("X", "T")], outputs: [.output("Y", .int64)],
                            types: ["T": .all], infer: nonZeroRule, kernel: Kernels.nonZero)) {
            $0.traits = .dataDependentShape
        },
    ]

    static func argReduce(_ name: String) -> OperatorSchema {
        OperatorSchema(name, versions: [1, 11, 12, 13], attributes: [.int("axis", 0), .int("keepdims", 1), .int("select_last_index", 0)],
                       inputs: [.input("data", "T")], outputs: [.output("reduced", .int64)], types: ["T": .numeric],
                       infer: { ctx in
                           let x = try ctx.shape(0)
                           let axis = try ctx.axis(ctx.attributes.int("axis"), rank: x.count)
                           var out = x
                           if ctx.attributes.int("keepdims") != 0 { out[axis] = 1 } else { out.remove(at: axis) }
                           return [try ctx.output(0, out)]
                       }, kernel: Kernels.argReduce(max: name == "ArgMax"))
    }

    static func topKRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0)
        let axis = try ctx.axis(ctx.attributes.int("axis"), rank: x.count)
        let k = try ctx.value(1)
        guard k.count == 1, let kv = k.intValues.first else { throw ctx.fail("input 1 ('K') must hold one value, got \(k.shape)") }
        guard kv >= 0 && kv <= x[axis] else { throw ctx.fail("K = \(kv) is outside 0...\(x[axis]) for axis \(axis) of \(try ctx.type(0))") }
        var out = x
        out[axis] = kv
        return [try ctx.output(0, out), try ctx.output(1, out)]
    }

    /// (rank, number of non-zero elements): known once X's values are.
    static func nonZeroRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.value(0)
        let n = x.dtype.storage == .floats ? x.floats.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
            : x.dtype.storage == .doubles ? x.doubles.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
            : x.ints.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
        return [try ctx.output(0, [x.shape.count, n])]
    }
}
