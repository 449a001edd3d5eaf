import Dispatch

/// Executes a graph on the CPU in float32. Each intermediate tensor is released after its last use,
/// so peak memory is the live set, not the sum of all activations.
public struct Interpreter {
    public let graph: Graph
    private let lastUse: [ValueID: Int]

    public init(_ graph: Graph) {
        self.graph = graph
        var last: [ValueID: Int] = [:]
        for (i, n) in graph.nodes.enumerated() { for v in n.inputs.compactMap({ $0 }) { last[v] = i } }
        for v in graph.outputs { last[v] = Int.max }
        self.lastUse = last
    }

    /// Runs the graph on tensors for its inputs, in order, and returns its outputs in order.
    /// `timing`, when given, receives each node and the nanoseconds its kernel took.
    public func run(_ inputs: [Tensor], timing: ((Node, UInt64) -> Void)? = nil) throws -> [Tensor] {
        guard inputs.count == graph.inputs.count else {
            throw InterpreterError(node: graph.name, message: "expected \(graph.inputs.count) inputs, got \(inputs.count)")
        }
        var env: [ValueID: Tensor] = [:]
        for (v, t) in zip(graph.inputs, inputs) {
            let want = graph.type(of: v)
            guard t.shape == want.shape else {
                throw InterpreterError(node: graph.name(of: v), message: "input has shape \(t.shape), the model expects \(want.shape)")
            }
            guard t.isFloat == want.dtype.isFloat else {
                throw InterpreterError(node: graph.name(of: v), message: "input has element type \(t.dtype.rawValue), the model expects \(want.dtype.rawValue)")
            }
            env[v] = t
        }
        for (v, c) in graph.constants { env[v] = c.tensor }
        for (i, n) in graph.nodes.enumerated() {
            let ctx = KernelContext(node: n, inputs: n.inputs.map { $0.flatMap { env[$0] } },
                                    outputTypes: n.outputs.map(graph.type(of:)))
            let start = timing == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            let results = try Kernels.run(ctx)
            if let timing { timing(n, DispatchTime.now().uptimeNanoseconds - start) }
            for (v, t) in zip(n.outputs, results) { env[v] = t }
            for v in n.inputs.compactMap({ $0 }) where lastUse[v] == i && graph.constants[v] == nil {
                env[v] = nil
            }
        }
        return try graph.outputs.map { v in
            guard let t = env[v] else { throw InterpreterError(node: graph.name(of: v), message: "output was never computed") }
            return t
        }
    }
}
