// Operators that move data without arithmetic: reshapes, transposes, concatenation and splitting,
// slicing, padding, tiling, the space/depth rearrangements, Trilu, and Shape and Size.

extension Operators {
    static let layout: [OperatorSchema] = [
        relayout(OperatorSchema("Reshape", versions: [5, 13, 14, 19, 21], attributes: [.int("allowzero", 0)],
                                inputs: [.input("data", "T"), .value("shape", "I")], outputs: [.output("reshaped", "T")],
                                types: ["T": .all, "I": .int64], infer: reshapeRule, kernel: Kernels.reshape), sameType: true),
        relayout(OperatorSchema("Flatten", versions: [1, 9, 11, 13, 21], attributes: [.int("axis", 1)],
                                inputs: [.input("input", "T")], outputs: [.output("output", "T")],
                                types: ["T": .all], infer: flattenRule, kernel: Kernels.reshape), sameType: true),
        relayout(OperatorSchema("Squeeze", versions: [1, 11, 13, 21], inputs: [.input("data", "T"), .value("axes", "I", .optional)],
                                outputs: [.output("squeezed", "T")], types: ["T": .all, "I": .int64], infer: squeezeRule,
                                kernel: Kernels.reshape), sameType: true),
        relayout(OperatorSchema("Unsqueeze", versions: [1, 11, 13, 21], inputs: [.input("data", "T"), .value("axes", "I")],
                                outputs: [.output("expanded", "T")], types: ["T": .all, "I": .int64], infer: unsqueezeRule,
                                kernel: Kernels.reshape), sameType: true),
        with(OperatorSchema("Transpose", versions: [1, 13, 21], attributes: [.ints("perm")], inputs: [.input("data", "T")],
                            outputs: [.output("transposed", "T")], types: ["T": .all], infer: transposeRule, kernel: Kernels.transpose)) {
            $0.traits = .relayout
            $0.isIdentity = { q in
                guard let r = q.inputTypes[0]?.rank, r >= 0 else { return false }
                return (q.attributes.ints("perm") ?? Array((0..<r).reversed())) == Array(0..<r)
            }
        },
        with(OperatorSchema("Concat", versions: [1, 4, 11, 13], attributes: [.requiredInt("axis")],
                            inputs: [.input("inputs", "T", .variadic(min: 1))], outputs: [.output("concat_result", "T")],
                            types: ["T": .all], infer: concatRule, kernel: Kernels.concat)) {
            $0.isIdentity = { q in q.node.inputs.count == 1 }
        },
        with(OperatorSchema("Split", versions: [1, 2, 11, 13, 18], attributes: [.int("axis", 0), .int("num_outputs")],
                            inputs: [.input("input", "T"), .value("split", "I", .optional)], outputs: [.output("outputs", "T", .variadic(min: 1))],
                            types: ["T": .all, "I": .int64], infer: splitRule, kernel: Kernels.split)) {
            $0.isIdentity = { q in q.node.outputs.count == 1 }
        },
        relayout(OperatorSchema("Slice", versions: [1, 10, 11, 13],
                                inputs: [.input("data", "T"), .value("starts", "I"), .value("ends", "I"), .value("axes", "I", .optional), .value("steps", "I", .optional)],
                                outputs: [.output("output", "T")], types: ["T": .all, "I": .int32or64], infer: sliceRule,
                                kernel: Kernels.slice), sameType: false),
        with(OperatorSchema("Shape", versions: [1, 13, 15, 19, 21], attributes: [.int("start", 0), .int("end")],
                            inputs: [.input("data", "T")], outputs: [.output("shape", .int64)], types: ["T": .all],
                            infer: shapeRule, kernel: Kernels.shape)) {
            $0.valueFromTypes = { types, a in
                guard let s = types.first??.staticShape else { return nil }
                let (lo, hi) = shapeRange(a, rank: s.count)
                return .vector(Array(s[lo..<hi]))
            }
        },
        with(OperatorSchema("Size", versions: [1, 13, 19, 21], inputs: [.input("data", "T")], outputs: [.output("size", .int64)],
                            types: ["T": .all], infer: { ctx in [try ctx.output(0, [])] }, kernel: Kernels.size)) {
            $0.valueFromTypes = { types, _ in
                guard let s = types.first??.staticShape else { return nil }
                return Tensor(shape: [], ints: [Int64(s.reduce(1, *))])
            }
        },
        OperatorSchema("Expand", versions: [8, 13], inputs: [.input("input", "T"), .value("shape", "I")], outputs: [.output("output", "T")],
                       types: ["T": .all, "I": .int64], infer: expandRule, kernel: Kernels.expand),
        OperatorSchema("Tile", versions: [6, 13], inputs: [.input("input", "T"), .value("repeats", "I")], outputs: [.output("output", "T")],
                       types: ["T": .all, "I": .int64], infer: tileRule, kernel: Kernels.tile),
        OperatorSchema("Pad", versions: [2, 11, 13, 18, 19, 21],
                       attributes: [.string("mode", "constant", allowed: ["constant", "reflect", "edge", "wrap"])],
                       inputs: [.input("data", "T"), .value("pads", "I"), .input("constant_value", "T", .optional), .value("axes", "A", .optional)],
                       outputs: [.output("output", "T")], types: ["T": .all, "I": .int64, "A": .int32or64], infer: padRule, kernel: Kernels.pad),
        OperatorSchema("DepthToSpace", versions: [1, 11, 13], attributes: [.requiredInt("blocksize"), .string("mode", "DCR", allowed: ["DCR", "CRD"])],
                       inputs: [.input("input", "T")], outputs: [.output("output", "T")], types: ["T": .all],
                       infer: depthToSpaceRule, kernel: Kernels.depthToSpace),
        OperatorSchema("SpaceToDepth", versions: [1, 13], attributes: [.requiredInt("blocksize")],
                       inputs: [.input("input", "T")], outputs: [.output("output", "T")], types: ["T": .all],
                       infer: spaceToDepthRule, kernel: Kernels.spaceToDepth),
        OperatorSchema("Trilu", versions: [14], attributes: [.int("upper", 1)], inputs: [.input("input", "T"), .input("k", "I", .optional)],
                       outputs: [.output("output", "T", shape: .sameAs(0))], types: ["T": .all, "I": .int64],
                       infer: { ctx in
                           guard try ctx.type(0).rank != 0, try ctx.type(0).rank != 1 else { throw ctx.fail("expected an input of rank 2 or more, got \(try ctx.type(0))") }
                           return [try ctx.type(0)]
                       }, kernel: Kernels.trilu),
    ]

    /// A relayout: folding it over a parameter keeps a parameter; with `sameType`, an identity when
    /// its output type is its input's.
    static func relayout(_ s: OperatorSchema, sameType: Bool) -> OperatorSchema {
        with(s) {
            $0.traits = .relayout
            if sameType { $0.isIdentity = { q in q.inputTypes[0].map { $0.isStatic && $0 == q.outputTypes[0] } ?? false } }
        }
    }

    static func reshapeRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let spec = try ctx.value(1)
        guard spec.shape.count == 1 else { throw ctx.fail("input 1 ('shape') must be 1-D, got \(spec.shape)") }
        let x = try ctx.shape(0)
        guard let out = ShapeRules.reshapeTarget(x, spec.intValues, allowZero: ctx.attributes.int("allowzero") != 0) else {
            throw ctx.fail("cannot reshape \(try ctx.type(0)) to \(spec.intValues)")
        }
        return [try ctx.output(0, out)]
    }

    static func flattenRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0)
        var axis = ctx.attributes.int("axis")
        if axis < 0 { axis += x.count }
        guard axis >= 0 && axis <= x.count else { throw ctx.fail("axis \(ctx.attributes.int("axis")) is out of range for \(try ctx.type(0))") }
        return [try ctx.output(0, [x[..<axis].reduce(1, *), x[axis...].reduce(1, *)])]
    }

    static func squeezeRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0)
        let axes = try ctx.optionalValue(1)?.intValues
        var norm: Set<Int>? = nil
        if let axes {
            norm = Set(try axes.map { try ctx.axis($0, rank: x.count) })
            guard norm?.count == axes.count else { throw ctx.fail("axes \(axes) repeat an axis") }
        }
        var out: [Int] = []
        for (i, d) in x.enumerated() {
            if let norm {
                if norm.contains(i) {
                    guard d == 1 else { throw ctx.fail("cannot squeeze axis \(i) of size \(d)") }
                    continue
                }
            } else if d == 1 { continue }
            out.append(d)
        }
        return [try ctx.output(0, out)]
    }

    static func unsqueezeRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0)
        let axes = try ctx.value(1)
        guard axes.shape.count <= 1, let s = ShapeRules.unsqueezeShape(x, axes: axes.intValues) else {
            throw ctx.fail("invalid axes \(axes.intValues) for \(try ctx.type(0))")
        }
        return [try ctx.output(0, s)]
    }

    static func transposeRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        guard let dims = x.dims else {
            guard ctx.attributes.ints("perm") != nil else { return [x] }
            throw NotStatic()
        }
        let perm = ctx.attributes.ints("perm") ?? Array((0..<dims.count).reversed())
        guard perm.sorted() == Array(0..<dims.count) else { throw ctx.fail("perm \(perm) is not a permutation of rank \(dims.count)") }
        return [TensorType(x.dtype, dims: perm.map { dims[$0] })]
    }

    static func concatRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let shapes = try ctx.inputTypes.indices.map { try ctx.shape($0) }
        let first = shapes[0]
        guard !first.isEmpty else { throw ctx.fail("cannot concatenate scalars") }
        let axis = try ctx.axis(ctx.attributes.int("axis"), rank: first.count)
        var out = first
        out[axis] = 0
        for (i, s) in shapes.enumerated() {
            guard s.count == first.count else { throw ctx.fail("input \(i) is \(try ctx.type(i)), expected rank \(first.count)") }
            for a in 0..<s.count where a != axis && s[a] != first[a] {
                throw ctx.fail("input \(i) is \(try ctx.type(i)) but input 0 is \(try ctx.type(0)): sizes differ outside axis \(axis)")
            }
            out[axis] += s[axis]
        }
        return [try ctx.output(0, out)]
    }

    static func splitSizes(_ ctx: ShapeContext, dim: Int) throws -> [Int] {
        let n = ctx.outputCount
        if let s = try ctx.optionalValue(1) {
            guard ctx.attributes.optionalInt("num_outputs") == nil else { throw ctx.fail("give either input 'split' or attribute 'num_outputs', not both") }
            return s.intValues
        }
        if let k = ctx.attributes.optionalInt("num_outputs") {
            guard k == n, k >= 1 else { throw ctx.fail("num_outputs \(k) does not match the node's \(n) outputs") }
            // Chunks of ceil(dim / n); the last one smaller (opset 18).
            let chunk = (dim + n - 1) / n
            return (0..<n).map { Swift.max(0, Swift.min(chunk, dim - $0 * chunk)) }
        }
        guard n > 0, dim % n == 0 else { throw ctx.fail("cannot split \(dim) evenly into \(n)") }
        return [Int](repeating: dim / n, count: n)
    }

    static func splitRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0)
        let axis = try ctx.axis(ctx.attributes.int("axis"), rank: x.count)
        let sizes = try splitSizes(ctx, dim: x[axis])
        guard sizes.count == ctx.outputCount, sizes.allSatisfy({ $0 >= 0 && $0 <= x[axis] }), sizes.reduce(0, +) == x[axis] else {
            throw ctx.fail("split sizes \(sizes) do not add up to \(x[axis]) over \(ctx.outputCount) outputs")
        }
        return try sizes.enumerated().map { i, n in var s = x; s[axis] = n; return try ctx.output(i, s) }
    }

    static func sliceRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let starts = try ctx.value(1).intValues, ends = try ctx.value(2).intValues
        let axes = try ctx.optionalValue(3)?.intValues, steps = try ctx.optionalValue(4)?.intValues
        let x = try ctx.shape(0)
        guard let p = ShapeRules.sliceParameters(shape: x, starts: starts, ends: ends, axes: axes, steps: steps) else {
            throw ctx.fail("invalid slice starts \(starts) ends \(ends) axes \(axes ?? []) steps \(steps ?? []) for \(try ctx.type(0))")
        }
        return [try ctx.output(0, p.count)]
    }

    /// Shape's start and end (opset 15), clamped to the rank.
    static func shapeRange(_ a: AttributeView, rank: Int) -> (Int, Int) {
        func clamp(_ v: Int) -> Int { Swift.min(Swift.max(v < 0 ? v + rank : v, 0), rank) }
        let lo = clamp(a.int("start")), hi = clamp(a.optionalInt("end") ?? rank)
        return (lo, Swift.max(lo, hi))
    }

    static func shapeRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        guard x.rank >= 0 else { return [TensorType(.int64, dims: [.unknown])] }
        let (lo, hi) = shapeRange(ctx.attributes, rank: x.rank)
        return [try ctx.output(0, [hi - lo])]
    }

    static func expandRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let spec = try ctx.value(1)
        guard spec.shape.count == 1, spec.intValues.allSatisfy({ $0 >= 0 }) else { throw ctx.fail("input 1 ('shape') must be a 1-D list of sizes, got \(spec.intValues)") }
        let x = try ctx.shape(0)
        guard let out = ShapeRules.broadcast(x, spec.intValues) else { throw ctx.fail("cannot expand \(try ctx.type(0)) to \(spec.intValues)") }
        return [try ctx.output(0, out)]
    }

    static func tileRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let r = try ctx.value(1).intValues
        let x = try ctx.shape(0)
        guard r.count == x.count, r.allSatisfy({ $0 >= 0 }) else { throw ctx.fail("repeats \(r) must hold \(x.count) non-negative values") }
        var out: [Int] = []
        for (d, k) in zip(x, r) {
            let (m, o) = d.multipliedReportingOverflow(by: k)
            guard !o, m <= ShapeInference.maxElements else { throw ctx.fail("repeats \(r) make \(try ctx.type(0)) too large") }
            out.append(m)
        }
        return [try ctx.output(0, out)]
    }

    /// Begin and end pads per axis (negative pads crop).
    static func resolvedPads(_ pads: [Int], axes: [Int]?, rank: Int, fail: (String) -> any Error) throws -> (begin: [Int], end: [Int]) {
        let ax = try (axes ?? Array(0..<rank)).map { a -> Int in
            let n = a < 0 ? a + rank : a
            guard n >= 0 && n < rank else { throw fail("axis \(a) is out of range for rank \(rank)") }
            return n
        }
        guard Set(ax).count == ax.count else { throw fail("axes \(axes ?? []) repeat an axis") }
        guard pads.count == 2 * ax.count else { throw fail("pads \(pads) must hold \(2 * ax.count) values") }
        var begin = [Int](repeating: 0, count: rank), end = begin
        for (j, a) in ax.enumerated() {
            guard (-(1 << 24) + 1..<(1 << 24)).contains(pads[j]), (-(1 << 24) + 1..<(1 << 24)).contains(pads[j + ax.count]) else { throw fail("pads \(pads) are too large") }
            begin[a] = pads[j]
            end[a] = pads[j + ax.count]
        }
        return (begin, end)
    }

    static func padRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let pads = try ctx.value(1).intValues
        let axes = try ctx.optionalValue(3)?.intValues
        let x = try ctx.shape(0)
        if ctx.has(2), let c = try ctx.type(2).staticShape, c.reduce(1, *) != 1 {
            throw ctx.fail("input 2 ('constant_value') must be a scalar")
        }
        let (b, e) = try resolvedPads(pads, axes: axes, rank: x.count, fail: ctx.fail)
        if ctx.attributes.string("mode") != "constant", (b + e).contains(where: { $0 < 0 }) {
            // Whether an axis is cropped before or after it is reflected, repeated or wrapped changes the
            // answer, and runtimes differ.
            throw ctx.fail("negative pads \(pads) with mode '\(ctx.attributes.string("mode"))' are computed differently by runtimes (crop first or pad first); crop with Slice")
        }
        var out = x
        for a in 0..<x.count {
            out[a] = x[a] + b[a] + e[a]
            guard out[a] >= 0 else { throw ctx.fail("pads \(pads) crop more than axis \(a)'s \(x[a])") }
            if ctx.attributes.string("mode") != "constant" && x[a] == 0 && out[a] > 0 {
                throw ctx.fail("mode '\(ctx.attributes.string("mode"))' cannot pad an empty axis \(a)")
            }
        }
        return [try ctx.output(0, out)]
    }

    static func depthToSpaceRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0), b = ctx.attributes.int("blocksize")
        guard x.count == 4, b >= 1, b < 1 << 12, x[1] % (b * b) == 0 else {
            throw ctx.fail("expected a 4-D input whose channels divide by blocksize² (\(b)²), got \(try ctx.type(0))")
        }
        return [try ctx.output(0, [x[0], x[1] / (b * b), x[2] * b, x[3] * b])]
    }

    static func spaceToDepthRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0), b = ctx.attributes.int("blocksize")
        guard x.count == 4, b >= 1, b < 1 << 12, x[2] % b == 0, x[3] % b == 0 else {
            throw ctx.fail("expected a 4-D input whose height and width divide by blocksize \(b), got \(try ctx.type(0))")
        }
        return [try ctx.output(0, [x[0], x[1] * b * b, x[2] / b, x[3] / b])]
    }
}
