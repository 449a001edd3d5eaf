import CKernels
import Dispatch

/// Executes a graph on the CPU. Every node's attributes are decoded once, when the interpreter is
/// made. A graph whose inputs have symbolic or unknown dimensions is specialised to the shapes of the
/// tensors it is given (shapes inferred again, shape arithmetic folded) before it runs; a node whose
/// output shape depends on data (NonZero, say) has it inferred from its actual inputs as it runs.
/// Each intermediate tensor is released after its last use, so peak memory is the live set.
///
/// A float32 Conv whose only use is an activation runs with the activation fused into its output
/// pass, a MatMul with its bias and GELU, and MatMul -> Softmax -> MatMul as one attention kernel
/// (`OutputPassFusion`; `fusing: false` runs every node on its own, the plain path the
/// tests compare against). Kernels split their work across `KernelThreads.count` threads.
public struct Interpreter {
    public let graph: Graph
    private let plan: [PlannedNode]
    private let lastUse: [ValueID: Int]
    /// The values each node's kernel releases after it runs (their last use), constants excepted.
    private let released: [Int: [ValueID]]
    /// Fused activations by the convolution's node index, and the nodes they cover.
    private let fusions: [Int: OutputPassFusion.Fusion]
    private let covered: Set<Int>
    private let fusing: Bool

    struct PlannedNode {
        let label: String
        let schema: OperatorSchema
        let attributes: AttributeView
        /// The inferred output types, when every one is static.
        let staticOutputs: [TensorType]?
    }

    public init(_ graph: Graph, fusing: Bool = true) throws {
        _ = Self.heapReuse
        self.graph = graph
        var plan: [PlannedNode] = []
        for n in graph.nodes {
            let label = n.name.isEmpty ? "(output '\(n.outputs.first.map(graph.name(of:)) ?? "")')" : n.name
            guard let schema = Operators.schema(n.op) else {
                throw InterpreterError(node: label, op: n.op, message: "unsupported operator")
            }
            let attributes: AttributeView
            do { attributes = try AttributeView(n, schema: schema) } catch let e as ShapeError {
                throw InterpreterError(node: label, op: n.op, message: e.message)
            }
            let types = n.outputs.map(graph.type(of:))
            // Outputs count as known only when the inputs are too: a rule that could not see an input's
            // shape (after NonZero, say) has not checked it, and must run again on the real tensors.
            let known = types.allSatisfy(\.isStatic) && n.inputs.allSatisfy { $0.map { graph.type(of: $0).isStatic } ?? true }
            plan.append(PlannedNode(label: label, schema: schema, attributes: attributes, staticOutputs: known ? types : nil))
        }
        self.plan = plan
        let fusions = fusing ? OutputPassFusion.plan(graph, attributes: plan.map(\.attributes)) : [:]
        self.fusions = fusions
        self.fusing = fusing
        self.covered = Set(fusions.values.flatMap(\.covered))
        // Last uses in the order kernels run: a fused kernel reads its nodes' inputs where it runs.
        var last: [ValueID: Int] = [:]
        for i in graph.nodes.indices where !covered.contains(i) { for v in Self.reads(graph, i, fusions[i]) { last[v] = i } }
        for v in graph.outputs { last[v] = Int.max }
        self.lastUse = last
        var released: [Int: [ValueID]] = [:]
        for (v, i) in last where i != Int.max && graph.constants[v] == nil { released[i, default: []].append(v) }
        self.released = released
    }

    /// Runs the graph on tensors for its inputs, in order, and returns its outputs in order.
    /// `timing`, when given, receives each kernel's time (`KernelTiming`).
    public func run(_ inputs: [Tensor], timing: ((KernelTiming) -> Void)? = nil) throws -> [Tensor] {
        guard inputs.count == graph.inputs.count else {
            throw InterpreterError(node: graph.name, message: "the model has \(graph.inputs.count) inputs, \(inputs.count) given")
        }
        let bound = try InputBinding.check(graph, inputs)
        if !bound.allStatic {
            // Specialise to these shapes, then run the static graph.
            let specialised = try GraphInference.specialise(graph, to: inputs.map(\.type))
            return try Interpreter(specialised, fusing: fusing).run(inputs, timing: timing)
        }
        var env: [ValueID: Tensor] = [:]
        for (v, t) in zip(graph.inputs, inputs) { env[v] = t }
        for (v, c) in graph.constants { env[v] = c.tensor }
        // Memory: what is live, plus each node's outputs and scratch before its kernel allocates them.
        var live = env.values.reduce(0.0) { $0 + Self.bytes($1.type) }
        let threads = KernelThreads.count
        // Values no kernel may write over: the caller's inputs and the graph's outputs (constants are
        // never released, so never handed over).
        let keep = Set(graph.inputs + graph.outputs).union(graph.constants.keys)
        for (i, n) in graph.nodes.enumerated() where !covered.contains(i) {
            let p = plan[i]
            let fused = fusions[i]
            let outputs = fused.map { [$0.output] } ?? n.outputs
            var values = n.inputs.map { $0.flatMap { env[$0] } }
            if let extra = fused?.extraInput { values.append(env[extra]) }
            for (j, v) in n.inputs.enumerated() where v != nil && values[j] == nil {
                throw InterpreterError(node: p.label, op: n.op, message: "input \(j) was never computed")
            }
            let types = try fused.map { [graph.type(of: $0.output)] } ?? p.staticOutputs ?? runtimeTypes(n, p, values)
            let inputTypes = values.compactMap { $0?.type }
            // Input 0 at its last use, held nowhere else, goes to a kernel that can write over it.
            var handedOver: HandedOverInput? = nil
            if p.schema.traits.contains(.reusesInput), let v = n.inputs.first ?? nil, lastUse[v] == i, !keep.contains(v),
               n.inputs.dropFirst().allSatisfy({ $0 != v }), let t = env.removeValue(forKey: v) {
                live -= Self.bytes(t.type)
                handedOver = HandedOverInput(t)
                values[0] = nil
            }
            let outputBytes = types.reduce(0.0) { $0 + Self.bytes($1) }
            let scratch = 8 * (p.schema.scratchElements?(inputTypes, types, p.attributes) ?? 0)
            if live + outputBytes + scratch > Double(MemoryLimit.current) {
                let need = live + outputBytes + scratch
                throw InterpreterError(node: p.label, op: n.op, message: MemoryLimit.refusal(need >= 0x1p63 ? Int.max : Int(need), for: "running the node (its outputs \(Int(outputBytes)) bytes, scratch \(Int(min(scratch, 0x1p62))) bytes, with \(Int(live)) bytes live)") ?? "")
            }
            if let work = p.schema.multiplyAdds?(inputTypes, types, p.attributes), work > Self.maxWork {
                throw InterpreterError(node: p.label, op: n.op, message: "needs \(String(format: "%.3g", work)) multiply-adds, more than the interpreter's limit of 2^40 for one node")
            }
            let ctx = KernelContext(node: n, attributes: p.attributes, inputs: values, outputTypes: types, label: p.label,
                                    activation: fused?.activation ?? .identity, threads: threads, handedOver: handedOver)
            values = []
            let start = timing == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            let results = try (fused?.attentionValues == nil ? p.schema.kernel : Kernels.attention)(ctx)
            if let timing {
                let ns = DispatchTime.now().uptimeNanoseconds - start
                timing(KernelTiming(op: fused?.label(n.op) ?? n.op, node: p.label, outputShape: types.first?.staticShape ?? [], nanoseconds: ns))
            }
            guard results.count == outputs.count else {
                throw InterpreterError(node: p.label, op: n.op, message: "the kernel gave \(results.count) outputs for \(outputs.count)")
            }
            for (k, (t, want)) in zip(results, types).enumerated() {
                // A kernel that disagrees with its rule is a bug: refuse rather than return it.
                guard t.dtype == want.dtype, want.staticShape.map({ $0 == t.shape }) ?? (want.rank < 0 || want.rank == t.shape.count) else {
                    throw InterpreterError(node: p.label, op: n.op, message: "output \(k) came out \(t.type), inferred \(want)")
                }
            }
            for (v, t) in zip(outputs, results) { env[v] = t; live += Self.bytes(t.type) }
            for v in released[i] ?? [] {
                if let t = env.removeValue(forKey: v) { live -= Self.bytes(t.type) }
            }
        }
        return try graph.outputs.map { v in
            guard let t = env[v] else { throw InterpreterError(node: graph.name(of: v), message: "output was never computed") }
            return t
        }
    }

    /// The values node i's kernel reads: the node's inputs and, for a fused kernel, its extra input and
    /// the inputs of the nodes it stands in for.
    private static func reads(_ g: Graph, _ i: Int, _ fused: OutputPassFusion.Fusion?) -> [ValueID] {
        let nodes = [i] + (fused?.covered ?? [])
        return nodes.flatMap { g.nodes[$0].inputs.compactMap { $0 } } + [fused?.extraInput].compactMap { $0 }
    }

    /// Freed tensors' memory kept for the next node (Sources/CKernels/heap.c), set once per process.
    private static let heapReuse: Void = yc_keep_freed_memory()

    /// One node's multiply-adds past which it is refused (about an hour of one core).
    static let maxWork = 0x1p40

    /// Bytes a tensor of `type` holds in memory (float32 as Float, other floats as Double, integers
    /// and bools as Int64), as a Double so that no declared size can overflow it.
    static func bytes(_ type: TensorType) -> Double {
        guard let shape = type.staticShape else { return 0 }
        let count = shape.reduce(1.0) { $0 * Double($1) }
        switch type.dtype.storage {
        case .floats: return 4 * count
        case .doubles, .ints: return 8 * count
        }
    }

    /// Output types inferred from the actual inputs (a node after a data-dependent shape).
    private func runtimeTypes(_ n: Node, _ p: PlannedNode, _ values: [Tensor?]) throws -> [TensorType] {
        let ctx = ShapeContext(node: n, schema: p.schema, attributes: p.attributes, inputTypes: values.map { $0?.type },
                               constants: values, outputCount: n.outputs.count)
        do { return try ShapeInference.infer(ctx) } catch let e as ShapeError {
            throw InterpreterError(node: p.label, op: n.op, message: e.message)
        }
    }
}

/// One kernel's run, as `Interpreter.run(_:timing:)` reports it.
public struct KernelTiming: Sendable {
    /// The operator, or the fused chain ("Conv+SiLU").
    public let op: String
    /// The node's name (for a fused kernel, the first node's).
    public let node: String
    /// The (last) output's shape.
    public let outputShape: [Int]
    public let nanoseconds: UInt64

    public init(op: String, node: String, outputShape: [Int], nanoseconds: UInt64) {
        (self.op, self.node, self.outputShape, self.nanoseconds) = (op, node, outputShape, nanoseconds)
    }
}

/// Checks the tensors given for a graph's inputs against its declared input types: element types
/// exactly, fixed sizes exactly, and each symbol bound to one size throughout.
enum InputBinding {
    static func check(_ g: Graph, _ inputs: [Tensor]) throws -> (allStatic: Bool, symbols: [String: Int]) {
        var symbols: [String: Int] = [:]
        var allStatic = true
        for (v, t) in zip(g.inputs, inputs) {
            let want = g.type(of: v)
            let name = g.name(of: v)
            guard t.dtype == want.dtype else {
                throw InterpreterError(node: name, message: "input has element type \(t.dtype.rawValue), the model expects \(want.dtype.rawValue)")
            }
            guard let dims = want.dims else { allStatic = false; continue }
            guard dims.count == t.shape.count else {
                throw InterpreterError(node: name, message: "input has shape \(t.shape), the model expects \(want)")
            }
            for (d, size) in zip(dims, t.shape) {
                switch d {
                case .value(let v):
                    guard v == size else { throw InterpreterError(node: name, message: "input has shape \(t.shape), the model expects \(want.shape)") }
                case .symbol(let s):
                    allStatic = false
                    if let b = symbols[s], b != size {
                        throw InterpreterError(node: name, message: "input has shape \(t.shape), but '\(s)' is \(b) in an earlier input")
                    }
                    symbols[s] = size
                case .unknown:
                    allStatic = false
                }
            }
        }
        return (allStatic, symbols)
    }
}
