/// Adds nodes after a finished graph's own, each output's type inferred by its operator's shape rule
/// (as a reader infers a file's), for stages that extend a graph: end-to-end NMS after the detection
/// head. Nothing is folded but what costs nothing (Shape of a static value).
public struct GraphAppender {
    public var graph: Graph
    private var values: NameAllocator
    private var nodeNames: NameAllocator
    private let prefix: String
    private var budget = FoldingBudget.none

    /// Nodes are named `/<prefix>/<Op>`.
    public init(_ g: Graph, prefix: String) {
        graph = g
        values = NameAllocator(g)
        nodeNames = NameAllocator(names: g.nodes.map(\.name))
        self.prefix = prefix
    }

    public mutating func constant(_ t: Tensor) -> ValueID {
        graph.addConstant(name: values.unique("/\(prefix)/Constant_output_0"), tensor: t, kind: .constant)
    }

    /// Appends one node with `outputs` results and returns them, typed.
    public mutating func add(_ op: String, _ inputs: [ValueID?], _ attributes: [String: Attribute] = [:], outputs: Int = 1) throws -> [ValueID] {
        let name = nodeNames.unique("/\(prefix)/\(op)")
        let outs = (0..<outputs).map { k in graph.addValue(name: values.unique("\(name)_output_\(k)"), type: TensorType(.float32, dims: nil)) }
        try GraphInference.place(Node(op: op, name: name, inputs: inputs, outputs: outs, attributes: attributes), in: &graph, budget: &budget)
        return outs
    }

    public mutating func op(_ op: String, _ inputs: [ValueID?], _ attributes: [String: Attribute] = [:]) throws -> ValueID {
        try add(op, inputs, attributes)[0]
    }
}
