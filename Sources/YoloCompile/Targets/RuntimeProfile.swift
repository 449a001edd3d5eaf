/// A runtime an export is meant for (`--target`).
public enum RuntimeTarget: String, CaseIterable, Sendable {
    case generic, ort, opencv, openvino, ncnn, libonnx, tensorrt
}

/// What one runtime accepts, and the exact rewrites that bring our graphs within it. Every limit here
/// is one the peer tests (or, for libonnx, a hand check against its source) measured; the legalisations
/// are ordinary passes, each exact.
public struct RuntimeProfile: Sendable {
    public var target: RuntimeTarget
    /// The runtime and version the profile was measured against.
    public var runtime: String
    public var opsets: ClosedRange<Int>
    /// Operators it runs (ONNX names as written at the export's opset); nil: every operator we write.
    public var operators: Set<String>?
    /// No tensor may have more dimensions than this.
    public var maxRank: Int?
    /// Which `--dynamic` forms it takes; empty: static shapes only.
    public var dynamic: Set<DynamicAxes>
    /// The `--dynamic` form an export for it gets when none is asked.
    public var defaultDynamic: DynamicAxes?
    /// Whether Shape and the arithmetic on sizes may appear (TensorRT: builds fixed engines per profile).
    public var shapeArithmetic: Bool
    /// Every intermediate value's type written as value_info (engines that infer no shapes).
    public var valueInfo: Bool
    /// The rewrites an export applies, in order.
    public var legalizations: [Pass]
    /// Whether a Slice may step by more than 1 (pnnx leaves such slices unconverted).
    public var stridedSlices = true

    public static func of(_ t: RuntimeTarget) -> RuntimeProfile {
        switch t {
        case .generic:
            return RuntimeProfile(target: t, runtime: "any ONNX runtime", opsets: Opset.supported, operators: nil, maxRank: nil,
                                  dynamic: [.all, .batch], defaultDynamic: nil, shapeArithmetic: true, valueInfo: false, legalizations: [])
        case .ort:
            return RuntimeProfile(target: t, runtime: "onnxruntime 1.2x (CPU)", opsets: Opset.supported, operators: nil, maxRank: nil,
                                  dynamic: [.all, .batch], defaultDynamic: nil, shapeArithmetic: true, valueInfo: false, legalizations: [])
        case .opencv:
            return RuntimeProfile(target: t, runtime: "OpenCV DNN 5.1", opsets: 12...17, operators: nil, maxRank: nil,
                                  dynamic: [.all, .batch], defaultDynamic: nil, shapeArithmetic: true, valueInfo: false, legalizations: [])
        case .openvino:
            return RuntimeProfile(target: t, runtime: "OpenVINO 2026.4 (CPU)", opsets: Opset.supported, operators: nil, maxRank: nil,
                                  dynamic: [.all, .batch], defaultDynamic: nil, shapeArithmetic: true, valueInfo: false, legalizations: [])
        case .tensorrt:
            return RuntimeProfile(target: t, runtime: "TensorRT 8.6 to 10 (ONNX parser)", opsets: 13...17, operators: nil, maxRank: 8,
                                  dynamic: [.batch], defaultDynamic: .batch, shapeArithmetic: false, valueInfo: false, legalizations: [])
        case .ncnn:
            // Four axes besides a batch of 1 (pnnx drops it); no strided Slice; constants broadcast at
            // the rank they are read at (pnnx keeps one blob per constant).
            return RuntimeProfile(target: t, runtime: "ncnn 20261020 through pnnx 20261020", opsets: 13...17, operators: nil, maxRank: 5,
                                  dynamic: [], defaultDynamic: nil, shapeArithmetic: false, valueInfo: false,
                                  legalizations: [.limitTransposeRank4, .stridedSliceAsReshape, .constantsAtFullRank], stridedSlices: false)
        case .libonnx:
            // Opset 13 to 16: Squeeze and Unsqueeze need 13, Reduce* take axes as attributes to 17, and
            // at 16 LayerNormalization is written as its primitives (libonnx has none).
            return RuntimeProfile(target: t, runtime: "libonnx (xboot e6129dab)", opsets: 13...16, operators: libonnxOperators, maxRank: nil,
                                  dynamic: [], defaultDynamic: nil, shapeArithmetic: false, valueInfo: true,
                                  legalizations: [.nearestResizeToExpand, .sliceAsSelection, .padAsConcat, .hardSwishAsHardSigmoid, .copyAfterTranspose])
        }
    }

    /// The operators libonnx (e6129dab) implements for float32 at opsets 13 to 16: its resolvers in
    /// src/default, read by hand (75 more are declared with empty bodies: Resize, Split, Slice, Pad,
    /// Gather, LayerNormalization, HardSwish, ConvTranspose, TopK, NonMaxSuppression among them).
    static let libonnxOperators: Set<String> = [
        "Abs", "Acos", "Acosh", "Add", "And", "ArgMax", "ArgMin", "Asin", "Asinh", "Atan", "Atanh", "AveragePool",
        "BatchNormalization", "Cast", "Ceil", "Celu", "Clip", "Concat", "Constant", "ConstantOfShape", "Conv", "Cos", "Cosh",
        "Div", "Dropout", "Elu", "Equal", "Erf", "Exp", "Expand", "Flatten", "Floor", "Gemm", "GlobalAveragePool",
        "GlobalLpPool", "GlobalMaxPool", "Greater", "GreaterOrEqual", "HardSigmoid", "Identity", "InstanceNormalization",
        "IsInf", "IsNaN", "LRN", "LeakyRelu", "Less", "LessOrEqual", "Log", "LogSoftmax", "MatMul", "Max", "MaxPool", "Mean",
        "Min", "Mod", "Mul", "Neg", "Not", "Or", "PRelu", "Pow", "Range", "Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSum",
        "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare", "Relu",
        "Reshape", "Round", "Selu", "Shape", "Shrink", "Sigmoid", "Sign", "Sin", "Sinh", "Size", "Softmax", "Softplus",
        "Softsign", "Sqrt", "Squeeze", "Sub", "Sum", "Tan", "Tanh", "ThresholdedRelu", "Tile", "Transpose", "Unsqueeze",
        "Where", "Xor",
    ]

    /// Operators that compute sizes from shapes: what `shapeArithmetic: false` excludes.
    static let shapeOperators: Set<String> = ["Shape", "Size"]
}

/// One way a graph does not fit a target.
public struct TargetViolation: Sendable, Equatable, CustomStringConvertible {
    /// The node (or value) it concerns.
    public var node: String
    public var op: String
    public var reason: String
    public var description: String { "\(node) (\(op)): \(reason)" }
}

extension RuntimeProfile {
    /// Every way `g` falls outside this profile, in graph order. `written` is what the file holds at
    /// `opset` (the operators as spelled there, before folding); ranks come from `g`'s types.
    public func violations(of g: Graph, opset: Int, written: [WrittenNode]) -> [TargetViolation] {
        var found: [TargetViolation] = []
        if !opsets.contains(opset) {
            found.append(TargetViolation(node: "model", op: "opset", reason: "opset \(opset) is outside \(runtime)'s \(opsets.lowerBound) to \(opsets.upperBound)"))
        }
        for v in g.inputs + g.outputs {
            let dims = g.type(of: v).dims ?? []
            let symbolic = dims.indices.filter { dims[$0].value == nil }
            guard let first = symbolic.first else { continue }
            if dynamic.isEmpty {
                found.append(TargetViolation(node: g.name(of: v), op: "interface", reason: "dimension \(first) is \(dims[first]), and \(runtime) takes static shapes only"))
            } else if !dynamic.contains(.all), g.inputs.contains(v), symbolic != [0] {
                found.append(TargetViolation(node: g.name(of: v), op: "interface", reason: "only the batch may be symbolic for \(runtime) (--dynamic batch)"))
            }
        }
        for n in written {
            if let ops = operators, !ops.contains(n.op) {
                found.append(TargetViolation(node: n.name, op: n.op, reason: "\(runtime) has no \(n.op)"))
            }
            if !shapeArithmetic, Self.shapeOperators.contains(n.op) {
                found.append(TargetViolation(node: n.name, op: n.op, reason: "\(runtime) takes no shape arithmetic"))
            }
        }
        if !stridedSlices {
            for n in g.nodes where n.op == "Slice" {
                guard n.inputs.count > 4, let steps = g.constant(n.inputs[4]), steps.ints.contains(where: { $0 != 1 }) else { continue }
                found.append(TargetViolation(node: n.name, op: n.op, reason: "\(runtime) takes no Slice with steps (\(steps.ints.map(String.init).joined(separator: ", ")))"))
            }
        }
        if let maxRank {
            for n in g.nodes {
                guard let v = (n.inputs.compactMap { $0 } + n.outputs).first(where: { g.type(of: $0).rank > maxRank }) else { continue }
                found.append(TargetViolation(node: n.name, op: n.op, reason: "\(g.name(of: v)) has rank \(g.type(of: v).rank), above \(runtime)'s \(maxRank)"))
            }
        }
        return found
    }

    /// The nodes `g` is written as at `opset` (OpsetLegalization's spellings).
    public static func written(_ g: Graph, opset: Int) throws -> [WrittenNode] {
        try g.nodes.flatMap { n in try OpsetLegalization.export(n, opset: opset, graph: g).map { WrittenNode(name: $0.name, op: $0.op) } }
    }
}
