// Pooling over 1, 2 or 3 spatial dimensions: MaxPool (with its Indices output), AveragePool, LpPool,
// and the global forms.

extension Operators {
    static let pooling: [OperatorSchema] = [
        with(OperatorSchema("MaxPool", versions: [1, 8, 10, 11, 12],
                       attributes: windowAttributes + [.int("ceil_mode", 0), .int("storage_order", 0)],
                       inputs: [.input("X", "T")], outputs: [.output("Y", "T"), .output("Indices", .int64, .optional)],
                       types: ["T": [.floats, TypeSet([.int8, .uint8])]], infer: poolRule, kernel: Kernels.maxPool)) { poolCosts(&$0) },
        with(OperatorSchema("AveragePool", versions: [1, 7, 10, 11, 19],
                       attributes: windowAttributes + [.int("ceil_mode", 0), .int("count_include_pad", 0)],
                       inputs: [.input("X", "T")], outputs: [.output("Y", "T")],
                       types: ["T": .floats], infer: poolRule, kernel: Kernels.averagePool)) { poolCosts(&$0) },
        with(OperatorSchema("LpPool", versions: [1, 2, 11, 18], attributes: windowAttributes + [.int("ceil_mode", 0), .int("p", 2)],
                       inputs: [.input("X", "T")], outputs: [.output("Y", "T")],
                       types: ["T": .floats], infer: poolRule, kernel: Kernels.lpPool)) { poolCosts(&$0) },
        OperatorSchema("GlobalAveragePool", versions: [1], inputs: [.input("X", "T")], outputs: [.output("Y", "T")],
                       types: ["T": .floats], infer: globalPoolRule, kernel: Kernels.globalPool(max: false)),
        OperatorSchema("GlobalMaxPool", versions: [1], inputs: [.input("X", "T")], outputs: [.output("Y", "T")],
                       types: ["T": .floats], infer: globalPoolRule, kernel: Kernels.globalPool(max: true)),
    ]

    /// A window's taps per output element: the work, and the tap map the kernel builds.
    static func poolCosts(_ s: inout OperatorSchema) {
        s.multiplyAdds = { _, outputs, a in Double(outputs[0].count) * (a.ints("kernel_shape") ?? []).reduce(1.0) { $0 * Double($1) } }
        s.scratchElements = { _, outputs, a in
            let plane = outputs[0].staticShape.map { Double($0.dropFirst(2).reduce(1, *)) } ?? 0
            return plane * (a.ints("kernel_shape") ?? []).reduce(1.0) { $0 * Double($1) }
        }
    }

    static func poolRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0)
        guard x.count >= 3, x.count <= 5 else { throw ctx.fail("expected a 3-D, 4-D or 5-D input, got \(try ctx.type(0))") }
        guard ctx.attributes.ints("kernel_shape") != nil else { throw ctx.fail("required attribute 'kernel_shape' is missing") }
        let w = try SpatialWindow(ctx, input: Array(x[2...]), kernel: nil, ceilMode: ctx.attributes.int("ceil_mode") != 0)
        let shape = [x[0], x[1]] + w.output
        return try (0..<ctx.outputCount).map { try ctx.output($0, shape) }
    }

    static func globalPoolRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0)
        guard x.count >= 3 else { throw ctx.fail("expected an input of rank 3 or more, got \(try ctx.type(0))") }
        return [try ctx.output(0, Array(x[..<2]) + [Int](repeating: 1, count: x.count - 2))]
    }
}
