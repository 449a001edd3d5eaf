// Indexing: Gather, GatherElements, GatherND, ScatterND, ScatterElements (and Scatter, its opset 9
// name), Compress, OneHot. An index out of range is refused when the model runs, naming it.

extension Operators {
    static let indexing: [OperatorSchema] = [
        OperatorSchema("Gather", versions: [1, 11, 13], attributes: [.int("axis", 0)], inputs: [.input("data", "T"), .input("indices", "I")],
                       outputs: [.output("output", "T")], types: ["T": .all, "I": .int32or64], infer: gatherRule, kernel: Kernels.gather),
        OperatorSchema("GatherElements", versions: [11, 13], attributes: [.int("axis", 0)], inputs: [.input("data", "T"), .input("indices", "I")],
                       outputs: [.output("output", "T")], types: ["T": .all, "I": .int32or64], infer: gatherElementsRule, kernel: Kernels.gatherElements),
        OperatorSchema("GatherND", versions: [11, 12, 13], attributes: [.int("batch_dims", 0)], inputs: [.input("data", "T"), .input("indices", "I")],
                       outputs: [.output("output", "T")], types: ["T": .all, "I": .int64], infer: gatherNDRule, kernel: Kernels.gatherND),
        OperatorSchema("ScatterND", versions: [11, 13, 16, 18], attributes: [.string("reduction", "none", allowed: ["none", "add", "mul", "max", "min"])],
                       inputs: [.input("data", "T"), .input("indices", "I"), .input("updates", "T")], outputs: [.output("output", "T", shape: .sameAs(0))],
                       types: ["T": .all, "I": .int64], infer: scatterNDRule, kernel: Kernels.scatterND),
        OperatorSchema("ScatterElements", versions: [11, 13, 16, 18],
                       attributes: [.int("axis", 0), .string("reduction", "none", allowed: ["none", "add", "mul", "max", "min"])],
                       inputs: [.input("data", "T"), .input("indices", "I"), .input("updates", "T")], outputs: [.output("output", "T", shape: .sameAs(0))],
                       types: ["T": .all, "I": .int32or64], infer: scatterElementsRule, kernel: Kernels.scatterElements),
        with(OperatorSchema("Scatter", versions: [9], attributes: [.int("axis", 0)],
                            inputs: [.input("data", "T"), .input("indices", "I"), .input("updates", "T")], outputs: [.output("output", "T", shape: .sameAs(0))],
                            types: ["T": .all, "I": .int32or64], infer: scatterElementsRule, kernel: Kernels.scatterElements)) {
            $0.removedAt = 11
        },
        OperatorSchema("Compress", versions: [9, 11], attributes: [.int("axis")], inputs: [.input("input", "T"), .value("condition", "B")],
                       outputs: [.output("output", "T")], types: ["T": .all, "B": .bool], infer: compressRule, kernel: Kernels.compress),
        OperatorSchema("OneHot", versions: [9, 11], attributes: [.int("axis", -1)],
                       inputs: [.input("indices", "T1"), .value("depth", "T2"), .input("values", "T3")], outputs: [.output("output", "T3")],
                       types: ["T1": .numeric, "T2": .numeric, "T3": .all], infer: oneHotRule, kernel: Kernels.oneHot),
    ]

    static func gatherRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0), idx = try ctx.shape(1)
        let axis = try ctx.axis(ctx.attributes.int("axis"), rank: x.count)
        return [try ctx.output(0, Array(x[..<axis]) + idx + Array(x[(axis + 1)...]))]
    }

    static func gatherElementsRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0), idx = try ctx.shape(1)
        let axis = try ctx.axis(ctx.attributes.int("axis"), rank: x.count)
        guard idx.count == x.count else { throw ctx.fail("indices \(try ctx.type(1)) must have the data's rank \(x.count)") }
        // Off the axis, an index position is a data position (onnxruntime checks the same).
        guard x.indices.allSatisfy({ $0 == axis || idx[$0] <= x[$0] }) else {
            throw ctx.fail("indices \(try ctx.type(1)) are larger than data \(try ctx.type(0)) off axis \(axis)")
        }
        return [try ctx.output(0, idx)]
    }

    static func gatherNDRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0), idx = try ctx.shape(1)
        let b = ctx.attributes.int("batch_dims")
        guard let last = idx.last, idx.count >= 1, b >= 0, b < min(x.count, idx.count), last >= 1, b + last <= x.count,
              Array(x[..<b]) == Array(idx[..<b]) else {
            throw ctx.fail("indices \(try ctx.type(1)) with batch_dims \(b) do not index data \(try ctx.type(0))")
        }
        return [try ctx.output(0, Array(idx.dropLast()) + Array(x[(b + last)...]))]
    }

    static func scatterNDRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0), idx = try ctx.shape(1), u = try ctx.shape(2)
        guard let k = idx.last, k >= 1, k <= x.count, u == Array(idx.dropLast()) + Array(x[k...]) else {
            throw ctx.fail("updates \(try ctx.type(2)) do not match indices \(try ctx.type(1)) into data \(try ctx.type(0))")
        }
        return [try ctx.type(0)]
    }

    static func scatterElementsRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0), idx = try ctx.shape(1), u = try ctx.shape(2)
        let axis = try ctx.axis(ctx.attributes.int("axis"), rank: x.count)
        guard idx == u, idx.count == x.count else {
            throw ctx.fail("indices \(try ctx.type(1)) and updates \(try ctx.type(2)) must match and have the data's rank \(x.count)")
        }
        guard x.indices.allSatisfy({ $0 == axis || idx[$0] <= x[$0] }) else {
            throw ctx.fail("indices \(try ctx.type(1)) are larger than data \(try ctx.type(0)) off axis \(axis)")
        }
        return [try ctx.type(0)]
    }

    static func compressRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let c = try ctx.value(1)
        guard c.shape.count == 1 else { throw ctx.fail("condition must be 1-D, got \(c.shape)") }
        let x = try ctx.shape(0)
        let kept = c.ints.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
        guard let a = ctx.attributes.optionalInt("axis") else {
            guard c.count <= x.reduce(1, *) else { throw ctx.fail("condition has \(c.count) entries for \(x.reduce(1, *)) elements") }
            return [try ctx.output(0, [kept])]
        }
        let axis = try ctx.axis(a, rank: x.count)
        guard c.count <= x[axis] else { throw ctx.fail("condition has \(c.count) entries for axis \(axis) of size \(x[axis])") }
        var out = x
        out[axis] = kept
        return [try ctx.output(0, out)]
    }

    static func oneHotRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let depth = try ctx.value(1)
        guard depth.count == 1, let d = depth.doubleValues.first, d >= 1, d < Double(1 << 24) else {
            throw ctx.fail("depth must be one positive value, got \(depth.doubleValues)")
        }
        let x = try ctx.shape(0)
        guard try ctx.shape(2).reduce(1, *) == 2 else { throw ctx.fail("values must hold 2 elements (off, on)") }
        let rank = x.count + 1
        var axis = ctx.attributes.int("axis")
        if axis < 0 { axis += rank }
        guard axis >= 0 && axis < rank else { throw ctx.fail("axis \(ctx.attributes.int("axis")) is out of range for rank \(rank)") }
        var out = x
        out.insert(Int(d), at: axis)
        return [try ctx.output(0, out)]
    }
}
