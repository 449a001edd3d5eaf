/// Builds a `Graph` one node at a time, inferring every output type as the node is added, and
/// naming nodes, values and parameters the way PyTorch does: nodes `/model.3/cv1/conv/Conv`,
/// parameters `model.3.cv1.conv.weight`. Lowerings use it through `scoped(_:_:)`.
public final class GraphBuilder {
    public private(set) var graph: Graph
    public let parameters: any ParameterSource
    private var scope: [String] = []
    /// What the lowering decided on the user's behalf (an anchor flip, say), for the CLI to print.
    public private(set) var notes: [String] = []

    public func note(_ s: String) { notes.append(s) }
    /// BatchNorm channels inside YOLOv5 `Conv` modules. YOLOv5's own fuse() folds exactly these (each
    /// loses BatchNorm's 2c parameters and gains a c-element conv bias).
    public var convModuleBatchNormChannels = 0
    /// BatchNorm eps when the weights do not record it: 1e-3, as YOLOv5's and Ultralytics'
    /// initialize_weights set it; 1e-5 (PyTorch's) for Ultralytics' classifiers, which skip that call.
    public var batchNormEpsilon: Float = 1e-3
    /// Parameters PyTorch's module builds but the lowered forward never reads (ConvNeXt_Block's other
    /// stages): counted as PyTorch counts them, accepted from weights files, never exported.
    public private(set) var unusedParameters: [DeclaredTensor] = []
    /// What layers need of the image size, checked once the whole model is lowered.
    public var sizeRequirements: [SizeRequirement] = []
    private var nameCounts: [String: Int] = [:]
    /// Bytes of the parameters and constants made so far, checked against `MemoryLimit` before each
    /// is allocated: a config's widths and depths decide them.
    public private(set) var constantBytes = 0
    /// A graph larger than this is a config's depth multiplied past any real model (YOLOv5x has ~500
    /// nodes, ConvNeXt-XL ~1,000): refused rather than built for minutes.
    public static let maxNodes = 200_000

    /// Counts `count` float elements of a tensor about to be made, refusing them past the memory limit.
    public func reserve(_ count: Int, for what: String) throws {
        let (total, o) = constantBytes.addingReportingOverflow(MemoryLimit.byteCount(count, elementSize: 4))
        if o, let m = MemoryLimit.refusal(Int.max, for: "holding the model's parameters and constants (up to \(what))") {
            throw ShapeError(layer: currentScope, op: "parameter", message: m)
        }
        if let m = MemoryLimit.refusal(total, for: "holding the model's parameters and constants (up to \(what))") {
            throw ShapeError(layer: currentScope, op: "parameter", message: m)
        }
        constantBytes = total
    }

    public init(name: String, parameters: any ParameterSource) {
        self.graph = Graph(name: name)
        self.parameters = parameters
    }

    /// Runs `body` with `component` appended to the naming scope (a PyTorch submodule name).
    public func scoped<T>(_ component: String, _ body: () throws -> T) rethrows -> T {
        scope.append(component)
        defer { scope.removeLast() }
        return try body()
    }

    public var currentScope: String { scope.joined(separator: ".") }

    public func type(_ v: ValueID) -> TensorType { graph.type(of: v) }

    public func input(_ name: String, _ type: TensorType) -> ValueID {
        let v = graph.addValue(name: name, type: type)
        graph.inputs.append(v)
        return v
    }

    public func output(_ v: ValueID, name: String) {
        graph.rename(v, name)
        graph.outputs.append(v)
    }

    public func setMetadata(_ key: String, _ value: String) {
        graph.metadata.removeAll { $0.key == key }
        graph.metadata.append((key, value))
    }

    /// A trained tensor of the current module, e.g. `parameter("weight", ...)` inside `model.0.conv`.
    public func parameter(_ local: String, shape: [Int], kind: ConstantKind = .parameter,
                          initializer: ParameterInit) throws -> ValueID
    {
        let name = try checkedParameterName(local, shape: shape)
        try reserve(ShapeRules.elementCount(shape) ?? Int.max, for: name)
        let t = try parameters.tensor(named: name, shape: shape, kind: kind, initializer: initializer)
        return graph.addConstant(name: name, tensor: t, kind: kind)
    }

    /// A parameter of the current module that the forward pass never uses: declared, not added to the graph.
    public func unusedParameter(_ local: String, shape: [Int]) throws {
        let name = try checkedParameterName(local, shape: shape)
        try parameters.unused(named: name, shape: shape)
        unusedParameters.append(DeclaredTensor(name: name, shape: shape))
    }

    /// The state_dict name of `local` in the current scope, once `shape` is known to be sane.
    private func checkedParameterName(_ local: String, shape: [Int]) throws -> String {
        let name = scope.isEmpty ? local : currentScope + "." + local
        guard shape.allSatisfy({ $0 >= 1 }), let n = ShapeRules.elementCount(shape), n <= 1 << 30 else {
            throw ShapeError(layer: currentScope, op: "parameter", message: "\(name) would have shape \(shape): sizes must be positive and at most 2^30 elements")
        }
        return name
    }

    /// A buffer PyTorch derives from the architecture (EfficientViT's `attention_bias_idxs`): computed
    /// here, never read; a weights file that holds it is checked against it.
    public func derivedBuffer(_ local: String, _ t: Tensor) throws -> ValueID {
        let name = scope.isEmpty ? local : currentScope + "." + local
        try parameters.derived(named: name, tensor: t)
        return graph.addConstant(name: name, tensor: t, kind: .buffer)
    }

    /// A compiler-made constant (a shape, a scale, a grid).
    public func constant(_ t: Tensor) -> ValueID {
        graph.addConstant(name: uniqueName("Constant") + "_output_0", tensor: t, kind: .constant)
    }

    public func constant(ints: [Int]) -> ValueID { constant(.vector(ints)) }
    public func constant(scalar: Float) -> ValueID { constant(.scalar(scalar)) }

    private func uniqueName(_ op: String) -> String {
        let base = "/" + (scope.isEmpty ? "" : scope.joined(separator: "/") + "/") + op
        let k = nameCounts[base, default: 0]
        nameCounts[base] = k + 1
        return k == 0 ? base : base + "_\(k)"
    }

    /// Adds a node with `outputs` results and infers their types.
    @discardableResult
    public func add(_ op: String, _ inputs: [ValueID?], _ attributes: [String: Attribute] = [:],
                    outputs: Int = 1) throws -> [ValueID]
    {
        guard graph.nodes.count < Self.maxNodes else {
            throw ShapeError(layer: currentScope, op: op, message: "the model would have more than \(Self.maxNodes) nodes; the config's depths (number x depth_multiple) are past any real model")
        }
        let name = uniqueName(op)
        var node = Node(op: op, name: name, inputs: inputs, outputs: [], attributes: attributes)
        let placeholders = (0..<outputs).map { _ in TensorType(.float32, []) }
        node.outputs = placeholders.indices.map { i in graph.addValue(name: name + "_output_\(i)", type: placeholders[i]) }
        let types = try ShapeInference.infer(node, inputTypes: inputs.map { $0.map(graph.type(of:)) },
                                             constants: inputs.map { graph.constant($0) })
        // The compiler's graphs are static: every shape known when the node is added.
        for t in types where !t.isStatic {
            throw ShapeError(layer: node.layer, op: op, message: "result \(t) is not static; shape-like inputs must be constants")
        }
        for (v, t) in zip(node.outputs, types) { graph.setType(v, t) }
        graph.nodes.append(node)
        return node.outputs
    }

    /// Adds a single-output node.
    public func op(_ op: String, _ inputs: [ValueID?], _ attributes: [String: Attribute] = [:]) throws -> ValueID {
        try add(op, inputs, attributes)[0]
    }

    /// Reshape to a static shape.
    public func reshape(_ x: ValueID, _ shape: [Int]) throws -> ValueID {
        try op("Reshape", [x, constant(ints: shape)])
    }

    public func transpose(_ x: ValueID, _ perm: [Int]) throws -> ValueID {
        try op("Transpose", [x], ["perm": .ints(perm)])
    }

    public func finish() -> Graph { graph }
}

/// How a parameter is initialised when no trained weights supply it.
public enum ParameterInit: Sendable {
    /// Uniform in [-bound, bound] (PyTorch's default for conv and linear layers is 1/sqrt(fan_in)).
    case uniform(bound: Float)
    /// Uniform in [low, high]: used for BatchNorm statistics so fusion has work to do.
    case range(Float, Float)
    /// Exactly this tensor (anchors, say).
    case value(Tensor)
}

/// Supplies the data of each named parameter: seeded values or trained weights.
public protocol ParameterSource: AnyObject {
    func tensor(named: String, shape: [Int], kind: ConstantKind, initializer: ParameterInit) throws -> Tensor
    /// A BatchNorm's eps as the weights record it (checkpoints do), for the module at `path`.
    func batchNormEpsilon(module path: String) -> Float?
    /// Told of a buffer the compiler derives (so a file's copy counts as used, once checked).
    func derived(named: String, tensor: Tensor) throws
    /// Told of a parameter the model holds but never uses (so a file's copy is accepted, once checked).
    func unused(named: String, shape: [Int]) throws
}

extension ParameterSource {
    public func batchNormEpsilon(module path: String) -> Float? { nil }
    public func derived(named: String, tensor: Tensor) throws {}
    public func unused(named: String, shape: [Int]) throws {}
}

/// A tensor known by name and shape only.
public struct DeclaredTensor: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var count: Int { shape.reduce(1, *) }
}
