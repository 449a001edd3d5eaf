// Shape rules of the operators transformer blocks bring: MatMul, Softmax, LayerNormalization,
// ReduceMean, GlobalAveragePool and Pad.

extension ShapeRules {
    static func registerTransformerRules(_ r: inout [String: ShapeRule]) {
        r["MatMul"] = matMulRule
        r["Softmax"] = softmaxRule
        r["LayerNormalization"] = layerNormRule
        r["ReduceMean"] = reduceMeanRule
        r["GlobalAveragePool"] = { ctx in
            let x = try ctx.type(0)
            guard x.rank >= 3 else { throw ctx.fail("expected an input of rank 3 or more, got \(x)") }
            return [TensorType(x.dtype, Array(x.shape[..<2]) + [Int](repeating: 1, count: x.rank - 2))]
        }
        r["Pad"] = padRule
    }

    static let transformerFloatInputs: [String: [Int]] = [
        "MatMul": [0, 1], "Softmax": [0], "LayerNormalization": [0, 1, 2], "ReduceMean": [0], "GlobalAveragePool": [0], "Pad": [0],
    ]

    /// numpy matmul for ranks of 2 and more: the last two axes multiply, the leading ones broadcast.
    static func matMulRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let a = try ctx.type(0), b = try ctx.type(1)
        guard a.rank >= 2, b.rank >= 2 else { throw ctx.fail("expected inputs of rank 2 or more, got \(a) and \(b)") }
        let (m, k) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (k2, n) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        guard k == k2 else { throw ctx.fail("cannot multiply \(a) by \(b): inner sizes \(k) and \(k2) differ") }
        guard let batch = broadcast(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2))) else {
            throw ctx.fail("cannot broadcast the batch axes of \(a) and \(b)")
        }
        return [TensorType(a.dtype, batch + [m, n])]
    }

    static func softmaxRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        _ = try normalizeAxis(ctx.node.int("axis", default: -1), rank: x.rank, ctx)
        return [x]
    }

    /// Normalises over the axes from `axis` to the last; scale and bias have those axes' shape.
    static func layerNormRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        let axis = try normalizeAxis(ctx.node.int("axis", default: -1), rank: x.rank, ctx)
        let normalized = Array(x.shape[axis...])
        for i in 1..<min(ctx.inputTypes.count, 3) {
            guard let t = ctx.inputTypes[i] else { continue }
            guard broadcast(normalized, t.shape) == normalized else {
                throw ctx.fail("input \(i) is \(t); expected shape \(normalized) for axis \(axis) of \(x)")
            }
        }
        guard ctx.outputCount == 1 else { throw ctx.fail("only the Y output is supported, the node asks for \(ctx.outputCount)") }
        return [x]
    }

    /// ReduceMean's axes, normalised and sorted: the `axes` input (opset 18), else all axes.
    static func reduceAxes(_ ctx: ShapeContext, rank: Int) throws -> [Int] {
        guard let t = ctx.optionalConstant(1) else {
            if ctx.inputTypes.count > 1, ctx.inputTypes[1] != nil { throw ctx.fail("axes (input 1) must be a constant in a static graph") }
            return Array(0..<rank)
        }
        let axes = try t.intValues.map { try normalizeAxis($0, rank: rank, ctx) }
        guard Set(axes).count == axes.count else { throw ctx.fail("axes \(t.intValues) repeat an axis") }
        return axes.isEmpty ? Array(0..<rank) : axes.sorted()
    }

    static func reduceMeanRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        let axes = try reduceAxes(ctx, rank: x.rank)
        let keep = ctx.node.int("keepdims", default: 1) == 1
        var out: [Int] = []
        for (i, d) in x.shape.enumerated() {
            if axes.contains(i) { if keep { out.append(1) } } else { out.append(d) }
        }
        return [TensorType(x.dtype, out)]
    }

    /// Pad in constant mode with non-negative pads (`[begin..., end...]`), optionally on `axes`.
    static func padRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        let pads = try ctx.constant(1, "pads").intValues
        if let mode = ctx.node.attributes["mode"], mode != .string("constant") {
            throw ctx.fail("only mode 'constant' is supported, got \(mode)")
        }
        let axes = try (ctx.optionalConstant(3)?.intValues ?? Array(0..<x.rank)).map { try normalizeAxis($0, rank: x.rank, ctx) }
        guard pads.count == 2 * axes.count, pads.allSatisfy({ $0 >= 0 && $0 < 1 << 20 }) else {
            throw ctx.fail("pads \(pads) must hold \(2 * axes.count) non-negative values")
        }
        var out = x.shape
        for (j, a) in axes.enumerated() { out[a] += pads[j] + pads[j + axes.count] }
        return [TensorType(x.dtype, out)]
    }
}
