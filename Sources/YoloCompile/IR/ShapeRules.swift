/// Shape and type inference: one rule per operator. A rule sees the node, its input types and any
/// constant inputs (shape-like inputs must be constants: the IR is static), and returns the output types.
public struct ShapeContext: Sendable {
    public let node: Node
    public let inputTypes: [TensorType?]
    public let constants: [Tensor?]
    /// How many outputs the node has (Split's rule needs it before the outputs exist).
    public let outputCount: Int

    public init(node: Node, inputTypes: [TensorType?], constants: [Tensor?], outputCount: Int? = nil) {
        self.node = node
        self.inputTypes = inputTypes
        self.constants = constants
        self.outputCount = outputCount ?? node.outputs.count
    }

    func fail(_ message: String) -> ShapeError {
        ShapeError(layer: node.layer, op: node.op, message: message)
    }

    func type(_ i: Int) throws -> TensorType {
        guard i < inputTypes.count, let t = inputTypes[i] else { throw fail("missing input \(i)") }
        return t
    }

    func constant(_ i: Int, _ what: String) throws -> Tensor {
        guard i < constants.count, let t = constants[i] else {
            throw fail("\(what) (input \(i)) must be a constant in a static graph")
        }
        return t
    }

    func optionalConstant(_ i: Int) -> Tensor? { i < constants.count ? constants[i] : nil }
}

public typealias ShapeRule = @Sendable (ShapeContext) throws -> [TensorType]

public enum ShapeRules {
    /// Every operator the IR knows, with its shape rule.
    public static let rules: [String: ShapeRule] = {
        var r: [String: ShapeRule] = [:]
        for op in ["Sigmoid", "Relu", "LeakyRelu", "HardSwish", "HardSigmoid", "Identity", "Neg", "Exp",
                   "Sqrt", "Tanh", "Erf", "Gelu", "Abs", "Reciprocal", "Softplus", "Clip"] {
            r[op] = { ctx in [try ctx.type(0)] }
        }
        for op in ["Add", "Sub", "Mul", "Div", "Pow"] { r[op] = broadcastRule }
        r["Conv"] = convRule
        r["MaxPool"] = poolRule
        r["AveragePool"] = poolRule
        r["BatchNormalization"] = batchNormRule
        r["Concat"] = concatRule
        r["Split"] = splitRule
        r["Slice"] = sliceRule
        r["Reshape"] = reshapeRule
        r["Flatten"] = flattenRule
        r["Transpose"] = transposeRule
        r["Resize"] = resizeRule
        r["Shape"] = { ctx in [TensorType(.int64, [try ctx.type(0).rank])] }
        r["Gather"] = gatherRule
        r["Unsqueeze"] = unsqueezeRule
        r["Squeeze"] = squeezeRule
        r["Cast"] = castRule
        registerTransformerRules(&r)
        registerGemmConvTransposeRules(&r)
        return r
    }()

    /// Largest tensor the compiler handles (2^31 elements): larger ones come from corrupt files.
    public static let maxElements = 1 << 31

    /// Operators whose data inputs must be floating point (kernels compute in float32).
    static let floatInputs: [String: [Int]] = {
        var m: [String: [Int]] = ["Conv": [0, 1, 2], "BatchNormalization": [0, 1, 2, 3, 4], "Resize": [0]]
        for op in ["MaxPool", "AveragePool", "Sigmoid", "Relu", "LeakyRelu", "HardSwish", "HardSigmoid", "Exp", "Sqrt",
                   "Tanh", "Erf", "Gelu", "Softplus", "Clip", "Reciprocal"] { m[op] = [0] }
        m.merge(transformerFloatInputs) { a, _ in a }
        m.merge(gemmConvTransposeFloatInputs) { a, _ in a }
        return m
    }()

    public static func infer(_ ctx: ShapeContext) throws -> [TensorType] {
        guard let rule = rules[ctx.node.op] else { throw ctx.fail("unsupported operator") }
        for i in floatInputs[ctx.node.op] ?? [] where i < ctx.inputTypes.count {
            if let t = ctx.inputTypes[i], !t.dtype.isFloat { throw ctx.fail("input \(i) is \(t); expected a float tensor") }
        }
        let types = try rule(ctx)
        for t in types {
            guard t.shape.allSatisfy({ $0 >= 0 }), elementCount(t.shape) != nil else {
                throw ctx.fail("result \(t) is larger than \(maxElements) elements")
            }
        }
        return types
    }

    /// The number of elements of a shape, or nil when it overflows or exceeds `maxElements`.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (m, o) = n.multipliedReportingOverflow(by: d)
            guard !o, m <= maxElements else { return nil }
            n = m
        }
        return n
    }

    // MARK: - Rules

    static func normalizeAxis(_ axis: Int, rank: Int, _ ctx: ShapeContext) throws -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0 && a < rank else { throw ctx.fail("axis \(axis) out of range for rank \(rank)") }
        return a
    }

    /// numpy broadcasting of two shapes.
    public static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let n = max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let x = i < n - a.count ? 1 : a[i - (n - a.count)]
            let y = i < n - b.count ? 1 : b[i - (n - b.count)]
            if x == y || y == 1 { out[i] = x } else if x == 1 { out[i] = y } else { return nil }
        }
        return out
    }

    static func broadcastRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let a = try ctx.type(0), b = try ctx.type(1)
        guard a.dtype.isFloat == b.dtype.isFloat else { throw ctx.fail("mixes \(a) with \(b); cast one first") }
        guard let s = broadcast(a.shape, b.shape) else {
            throw ctx.fail("cannot broadcast \(a) with \(b)")
        }
        return [TensorType(a.dtype, s)]
    }

    /// Kernel, strides, pads and dilations of a 2-D window op, checked: a hostile file must not crash us.
    static func spatial(_ ctx: ShapeContext, rank: Int) throws -> (k: [Int], s: [Int], p: [Int], d: [Int]) {
        let n = rank - 2
        let k = ctx.node.ints("kernel_shape") ?? []
        let s = ctx.node.ints("strides") ?? [Int](repeating: 1, count: n)
        let p = ctx.node.ints("pads") ?? [Int](repeating: 0, count: 2 * n)
        let d = ctx.node.ints("dilations") ?? [Int](repeating: 1, count: n)
        let limit = 1 << 16
        guard k.isEmpty || (k.count == n && k.allSatisfy { $0 >= 1 && $0 < limit }) else { throw ctx.fail("kernel_shape \(k) must hold \(n) positive sizes") }
        guard s.count == n, s.allSatisfy({ $0 >= 1 && $0 < limit }) else { throw ctx.fail("strides \(s) must hold \(n) positive values") }
        guard p.count == 2 * n, p.allSatisfy({ $0 >= 0 && $0 < 1 << 16 }) else { throw ctx.fail("pads \(p) must hold \(2 * n) non-negative values") }
        guard d.count == n, d.allSatisfy({ $0 >= 1 && $0 < limit }) else { throw ctx.fail("dilations \(d) must hold \(n) positive values") }
        if let auto = ctx.node.attributes["auto_pad"], auto != .string("NOTSET") {
            throw ctx.fail("auto_pad \(auto) is not supported; give explicit pads")
        }
        return (k, s, p, d)
    }

    static func convRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0), w = try ctx.type(1)
        guard x.rank == 4, w.rank == 4 else { throw ctx.fail("expected 4-D input and weight, got \(x) and \(w)") }
        let g = ctx.node.int("group", default: 1)
        guard g >= 1, g <= x.shape[1], x.shape[1] % g == 0, w.shape[0] % g == 0, w.shape[1] * g == x.shape[1] else {
            throw ctx.fail("input has \(x.shape[1]) channels but weight \(w) with group \(g) expects \(w.shape[1] * g)")
        }
        if ctx.inputTypes.count > 2, let b = ctx.inputTypes[2], b.shape != [w.shape[0]] {
            throw ctx.fail("bias \(b) does not match \(w.shape[0]) output channels")
        }
        var (k, s, p, d) = try spatial(ctx, rank: 4)
        if k.isEmpty { k = Array(w.shape[2...]) }
        guard k == Array(w.shape[2...]) else { throw ctx.fail("kernel_shape \(k) does not match weight \(w)") }
        var out = [x.shape[0], w.shape[0]]
        for i in 0..<2 {
            let ek = d[i] * (k[i] - 1) + 1
            let span = x.shape[2 + i] + p[i] + p[i + 2]
            guard span >= ek else {
                throw ctx.fail("kernel \(k) (dilation \(d)) does not fit the \(x.shape[2])x\(x.shape[3]) input with pads \(p)")
            }
            out.append((span - ek) / s[i] + 1)
        }
        return [TensorType(x.dtype, out)]
    }

    static func poolRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        guard x.rank == 4 else { throw ctx.fail("expected a 4-D input, got \(x)") }
        let (k, s, p, d) = try spatial(ctx, rank: 4)
        guard k.count == 2 else { throw ctx.fail("kernel_shape must have 2 entries") }
        let ceil = ctx.node.int("ceil_mode", default: 0) == 1
        var out = [x.shape[0], x.shape[1]]
        for i in 0..<2 {
            let ek = d[i] * (k[i] - 1) + 1
            let num = x.shape[2 + i] + p[i] + p[i + 2] - ek
            guard num >= 0 else { throw ctx.fail("pool window \(k) does not fit the input \(x) with pads \(p)") }
            out.append((ceil ? (num + s[i] - 1) / s[i] : num / s[i]) + 1)
        }
        return [TensorType(x.dtype, out)]
    }

    static func batchNormRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        guard x.rank >= 2 else { throw ctx.fail("expected at least 2-D input, got \(x)") }
        for i in 1...4 {
            let t = try ctx.type(i)
            guard t.shape == [x.shape[1]] else {
                throw ctx.fail("parameter \(i) is \(t), expected [\(x.shape[1])] for \(x.shape[1]) channels")
            }
        }
        return [x]
    }

    static func concatRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let first = try ctx.type(0)
        let axis = try normalizeAxis(ctx.node.int("axis", default: 0), rank: first.rank, ctx)
        var out = first.shape
        out[axis] = 0
        for i in ctx.inputTypes.indices {
            let t = try ctx.type(i)
            guard t.dtype == first.dtype else { throw ctx.fail("input \(i) is \(t) but input 0 is \(first): element types differ") }
            guard t.rank == first.rank else { throw ctx.fail("input \(i) is \(t), expected rank \(first.rank)") }
            for a in 0..<t.rank where a != axis && t.shape[a] != first.shape[a] {
                throw ctx.fail("input \(i) is \(t) but input 0 is \(first): sizes differ outside axis \(axis)")
            }
            out[axis] += t.shape[axis]
        }
        return [TensorType(first.dtype, out)]
    }

    static func splitRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        let axis = try normalizeAxis(ctx.node.int("axis", default: 0), rank: x.rank, ctx)
        let n = ctx.outputCount
        var sizes: [Int]
        if let s = ctx.optionalConstant(1) {
            sizes = s.intValues
        } else if let s = ctx.node.ints("split") {
            sizes = s
        } else {
            guard n > 0, x.shape[axis] % n == 0 else { throw ctx.fail("cannot split \(x.shape[axis]) evenly into \(n)") }
            sizes = [Int](repeating: x.shape[axis] / n, count: n)
        }
        guard sizes.count == n, sizes.allSatisfy({ $0 >= 0 && $0 <= x.shape[axis] }), sizes.reduce(0, +) == x.shape[axis] else {
            throw ctx.fail("split sizes \(sizes) do not add up to \(x.shape[axis]) over \(n) outputs")
        }
        return sizes.map { var s = x.shape; s[axis] = $0; return TensorType(x.dtype, s) }
    }

    /// Resolved start, step and count per axis, as ONNX Slice defines the clamping.
    public static func sliceParameters(shape: [Int], starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?)
        -> (start: [Int], step: [Int], count: [Int])?
    {
        var start = [Int](repeating: 0, count: shape.count)
        var step = [Int](repeating: 1, count: shape.count)
        var count = shape
        let ax = axes ?? Array(0..<starts.count)
        guard starts.count == ends.count, ax.count == starts.count else { return nil }
        for (j, a0) in ax.enumerated() {
            let a = a0 < 0 ? a0 + shape.count : a0
            guard a >= 0 && a < shape.count else { return nil }
            let dim = shape[a]
            let st = steps?[j] ?? 1
            guard st != 0 else { return nil }
            var s = max(starts[j], -dim - 1), e = max(ends[j], -dim - 1)
            if s < 0 { s += dim }
            if e < 0 { e += dim }
            // Clamp first, then count without forming sums that could overflow on hostile values.
            if st > 0 {
                s = min(max(s, 0), dim)
                e = min(max(e, 0), dim)
                count[a] = e > s ? (e - s - 1) / st + 1 : 0
            } else {
                guard st != Int.min else { return nil }
                s = min(max(s, 0), dim - 1)
                e = min(max(e, -1), dim - 1)
                count[a] = s > e ? (s - e - 1) / (-st) + 1 : 0
            }
            start[a] = s
            step[a] = st
        }
        return (start, step, count)
    }

    static func sliceRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        let starts = try ctx.constant(1, "starts").intValues
        let ends = try ctx.constant(2, "ends").intValues
        let axes = ctx.optionalConstant(3)?.intValues
        let steps = ctx.optionalConstant(4)?.intValues
        guard let p = sliceParameters(shape: x.shape, starts: starts, ends: ends, axes: axes, steps: steps) else {
            throw ctx.fail("invalid slice starts \(starts) ends \(ends) axes \(axes ?? []) steps \(steps ?? []) for \(x)")
        }
        return [TensorType(x.dtype, p.count)]
    }

    /// ONNX Reshape's target shape: 0 copies the input dimension (unless allowzero), -1 is inferred.
    public static func reshapeTarget(_ input: [Int], _ spec: [Int], allowZero: Bool) -> [Int]? {
        var out = spec
        var inferred: Int? = nil
        for (i, d) in spec.enumerated() {
            if d == 0 && !allowZero {
                guard i < input.count else { return nil }
                out[i] = input[i]
            } else if d == -1 {
                guard inferred == nil else { return nil }
                inferred = i
            } else if d < 0 { return nil }
        }
        guard let total = elementCount(input) else { return nil }
        if let i = inferred {
            guard let known = elementCount(out.enumerated().filter { $0.offset != i }.map(\.element)),
                  known > 0, total % known == 0 else { return nil }
            out[i] = total / known
        }
        return elementCount(out) == total ? out : nil
    }

    static func reshapeRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        let spec = try ctx.constant(1, "shape").intValues
        guard let out = reshapeTarget(x.shape, spec, allowZero: ctx.node.int("allowzero", default: 0) == 1) else {
            throw ctx.fail("cannot reshape \(x) to \(spec)")
        }
        return [TensorType(x.dtype, out)]
    }

    static func flattenRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        var axis = ctx.node.int("axis", default: 1)
        if axis < 0 { axis += x.rank }
        guard axis >= 0 && axis <= x.rank else { throw ctx.fail("axis out of range for \(x)") }
        return [TensorType(x.dtype, [x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *)])]
    }

    static func transposeRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        let perm = ctx.node.ints("perm") ?? Array((0..<x.rank).reversed())
        guard perm.sorted() == Array(0..<x.rank) else { throw ctx.fail("perm \(perm) is not a permutation of rank \(x.rank)") }
        return [TensorType(x.dtype, perm.map { x.shape[$0] })]
    }

    static func resizeRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        if let sizes = ctx.optionalConstant(3), sizes.count > 0 {
            guard sizes.count == x.rank, sizes.intValues.allSatisfy({ $0 >= 1 }) else {
                throw ctx.fail("sizes \(sizes.intValues) must hold \(x.rank) positive sizes")
            }
            return [TensorType(x.dtype, sizes.intValues)]
        }
        let scales = try ctx.constant(2, "scales").floatValues
        guard scales.count == x.rank else { throw ctx.fail("scales \(scales) do not match rank \(x.rank)") }
        guard scales.allSatisfy({ $0.isFinite && $0 > 0 && $0 < 65536 }) else {
            throw ctx.fail("scales \(scales) must be positive and finite")
        }
        let out = zip(x.shape, scales).map { Int((Float($0) * $1).rounded(.down)) }
        guard out.allSatisfy({ $0 >= 1 }) else { throw ctx.fail("scales \(scales) give an empty output from \(x)") }
        return [TensorType(x.dtype, out)]
    }

    static func gatherRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0), idx = try ctx.type(1)
        let axis = try normalizeAxis(ctx.node.int("axis", default: 0), rank: x.rank, ctx)
        return [TensorType(x.dtype, Array(x.shape[..<axis]) + idx.shape + Array(x.shape[(axis + 1)...]))]
    }

    public static func unsqueezeShape(_ shape: [Int], axes: [Int]) -> [Int]? {
        let rank = shape.count + axes.count
        let norm = axes.map { $0 < 0 ? $0 + rank : $0 }
        guard Set(norm).count == norm.count, norm.allSatisfy({ $0 >= 0 && $0 < rank }) else { return nil }
        var out: [Int] = []
        var it = shape.makeIterator()
        for i in 0..<rank { out.append(norm.contains(i) ? 1 : it.next()!) }
        return out
    }

    static func unsqueezeRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        let axes = try ctx.optionalConstant(1)?.intValues ?? ctx.node.ints("axes") ?? { throw ctx.fail("axes missing") }()
        guard let s = unsqueezeShape(x.shape, axes: axes) else { throw ctx.fail("invalid axes \(axes) for \(x)") }
        return [TensorType(x.dtype, s)]
    }

    static func squeezeRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        let axes = ctx.optionalConstant(1)?.intValues ?? ctx.node.ints("axes")
        let norm = axes.map { $0.map { $0 < 0 ? $0 + x.rank : $0 } }
        var out: [Int] = []
        for (i, d) in x.shape.enumerated() {
            if let norm {
                if norm.contains(i) {
                    guard d == 1 else { throw ctx.fail("cannot squeeze axis \(i) of size \(d)") }
                    continue
                }
            } else if d == 1 { continue }
            out.append(d)
        }
        return [TensorType(x.dtype, out)]
    }

    static func castRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0)
        let to = ctx.node.int("to", default: 1)
        guard let dt = DType(onnxCode: to) else { throw ctx.fail("cast to unsupported type \(to)") }
        return [TensorType(dt == .float16 ? .float32 : dt, x.shape)]
    }
}

extension DType {
    /// ONNX TensorProto.DataType codes.
    public init?(onnxCode: Int) {
        switch onnxCode {
        case 1: self = .float32
        case 10: self = .float16
        case 7: self = .int64
        case 6: self = .int32
        case 9: self = .bool
        default: return nil
        }
    }

    public var onnxCode: Int32 {
        switch self {
        case .float32: return 1
        case .float16: return 10
        case .int64: return 7
        case .int32: return 6
        case .bool: return 9
        }
    }
}
