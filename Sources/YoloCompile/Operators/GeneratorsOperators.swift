// Operators that make tensors from sizes: ConstantOfShape, Range, EyeLike.

extension Operators {
    static let generators: [OperatorSchema] = [
        OperatorSchema("ConstantOfShape", versions: [9, 20, 21], attributes: [.tensor("value")],
                       inputs: [.value("input", "T1")],
                       outputs: [OutputSpec(name: "output", type: .attributeTensor("value", default: .float32), presence: .required, shape: .rule)],
                       types: ["T1": .int64], infer: constantOfShapeRule, kernel: Kernels.constantOfShape),
        OperatorSchema("Range", versions: [11], inputs: [.value("start", "T"), .value("limit", "T"), .value("delta", "T")],
                       outputs: [.output("output", "T")], types: ["T": TypeSet([.float32, .float64, .int16, .int32, .int64])],
                       infer: rangeRule, kernel: Kernels.range),
        OperatorSchema("EyeLike", versions: [9], attributes: [.int("dtype"), .int("k", 0)], inputs: [.input("input", "T1")],
                       outputs: [OutputSpec(name: "output", type: .attributeCode("dtype", fallback: "T1"), presence: .required, shape: .sameAs(0))],
                       types: ["T1": .all], infer: eyeLikeRule, kernel: Kernels.eyeLike),
    ]

    static func constantOfShapeRule(_ ctx: ShapeContext) throws -> [TensorType] {
        if let v = ctx.attributes.tensor("value"), v.count != 1 {
            throw ctx.fail("attribute 'value' must hold one element, got \(v.shape)")
        }
        let s = try ctx.value(0)
        guard s.shape.count == 1, s.intValues.allSatisfy({ $0 >= 0 }) else {
            throw ctx.fail("input 0 must be a 1-D list of non-negative sizes, got \(s.intValues)")
        }
        return [try ctx.output(0, s.intValues)]
    }

    /// The number of elements Range makes: max(ceil((limit - start) / delta), 0).
    static func rangeCount(_ start: Tensor, _ limit: Tensor, _ delta: Tensor) -> Int? {
        if start.dtype.storage == .ints {
            let (s, l, d) = (start.ints[0], limit.ints[0], delta.ints[0])
            guard d != 0 else { return nil }
            let (span, o) = l.subtractingReportingOverflow(s)
            guard !o else { return nil }
            // INT64_MIN / -1 overflows: that span over that step is 2^63 elements anyway.
            let (q, o1) = span.dividedReportingOverflow(by: d), (r, o2) = span.remainderReportingOverflow(dividingBy: d)
            guard !o1, !o2 else { return nil }
            let n = q + (r != 0 && (r > 0) == (d > 0) ? 1 : 0)
            return n <= 0 ? 0 : Int(exactly: n)
        }
        let (s, l, d) = (start.doubleValues[0], limit.doubleValues[0], delta.doubleValues[0])
        guard d != 0, s.isFinite, l.isFinite, d.isFinite else { return nil }
        let n = ((l - s) / d).rounded(.up)
        guard n < Double(ShapeInference.maxElements) else { return nil }
        return n > 0 ? Int(n) : 0
    }

    static func rangeRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let s = try ctx.value(0), l = try ctx.value(1), d = try ctx.value(2)
        guard s.count == 1, l.count == 1, d.count == 1 else { throw ctx.fail("start, limit and delta must be scalars") }
        guard let n = rangeCount(s, l, d) else {
            throw ctx.fail("Range(\(s.doubleValues[0]), \(l.doubleValues[0]), \(d.doubleValues[0])) has no finite length")
        }
        return [try ctx.output(0, [n])]
    }

    static func eyeLikeRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        guard x.rank == 2 || x.rank < 0 else { throw ctx.fail("expected a 2-D input, got \(x)") }
        if let code = ctx.attributes.optionalInt("dtype"), DType(onnxCode: code) == nil {
            throw ctx.fail("attribute 'dtype' is \(onnxTypeName(code)), which yolo-compile does not compute")
        }
        return [try ctx.declaredOutput(0)]
    }
}
