/// The graph bookkeeping every pass shares, so that a pass says only what it rewrites: who reads a
/// value and who produces it (computed once, kept current as the pass edits), value and node names not
/// yet taken, and the edits themselves: replace a value's uses, erase a node, replace a node by others.
/// Edits are recorded against the original node indices and applied in one walk by `finish`.
///
///     try g.rewrite { r in
///         for i in r.indices where r.node(i).op == "Identity" {
///             r.replaceUses(of: r.node(i).outputs[0], with: r.input(i, 0)!)
///             r.erase(i)
///         }
///         return r.changes
///     }
public struct GraphRewriter {
    public var graph: Graph
    private var readers: [ValueID: [Int]]
    private var producers: [ValueID: Int]
    private var replaced: [ValueID: ValueID] = [:]
    private var replacements: [Int: [Node]] = [:]
    private var valueNames: NameAllocator
    private var nodeNames: NameAllocator
    /// One line per change, for the pass manager's report.
    public var changes: [String] = []

    public init(_ g: Graph) {
        graph = g
        readers = g.users()
        producers = g.producers()
        valueNames = NameAllocator(g)
        nodeNames = NameAllocator(names: g.nodes.map(\.name))
    }

    /// The original nodes' indices.
    public var indices: Range<Int> { graph.nodes.indices }

    /// Node `i` as it stands (with the pass's edits to it).
    public func node(_ i: Int) -> Node { replacements[i]?.first { $0.name == graph.nodes[i].name } ?? graph.nodes[i] }

    public func isErased(_ i: Int) -> Bool { replacements[i]?.isEmpty == true }
    /// Whether the pass has already replaced or erased node `i`.
    public func isEdited(_ i: Int) -> Bool { replacements[i] != nil }

    /// A value after the substitutions made so far.
    public func resolve(_ v: ValueID) -> ValueID {
        var v = v
        while let r = replaced[v] { v = r }
        return v
    }

    /// Input `k` of node `i`, resolved.
    public func input(_ i: Int, _ k: Int) -> ValueID? {
        let n = node(i)
        return k < n.inputs.count ? n.inputs[k].map(resolve) : nil
    }

    /// The index of the node that produces `v` (nil for graph inputs and constants).
    public func producer(of v: ValueID) -> Int? { producers[resolve(v)] }

    /// The nodes that read `v`.
    public func readers(of v: ValueID) -> [Int] { readers[resolve(v)] ?? [] }

    /// Whether `v` is read by a node other than `except`, or is a graph output.
    public func hasOtherUses(_ v: ValueID, except: Int) -> Bool {
        let v = resolve(v)
        return graph.outputs.contains(v) || readers(of: v).contains { $0 != except }
    }

    public func type(_ v: ValueID) -> TensorType { graph.type(of: v) }
    public func constant(_ v: ValueID?) -> Tensor? { v.flatMap { graph.constant(resolve($0)) } }

    /// Node `i`'s decoded attributes (declared defaults filled in).
    public func attributes(_ i: Int) throws -> AttributeView {
        let n = node(i)
        guard let s = Operators.schema(n.op) else { throw ShapeError(layer: n.layer, op: n.op, message: "unsupported operator") }
        return try AttributeView(n, schema: s)
    }

    /// Every use of `old` (node inputs and graph outputs) will read `new`.
    public mutating func replaceUses(of old: ValueID, with new: ValueID) {
        let new = resolve(new)
        replaced[old] = new
        readers[new, default: []] += readers[old] ?? []
        readers[old] = nil
    }

    public mutating func erase(_ i: Int) { replacements[i] = [] }

    /// Node `i` becomes `nodes` (in order, at its place).
    public mutating func replace(_ i: Int, with nodes: [Node]) {
        replacements[i] = nodes
        for n in nodes {
            for v in n.inputs.compactMap({ $0 }) where !(readers[v] ?? []).contains(i) { readers[v, default: []].append(i) }
            for o in n.outputs { producers[o] = i }
        }
    }

    /// Node `i` with its inputs changed.
    public mutating func setInputs(_ i: Int, _ inputs: [ValueID?]) {
        var n = node(i)
        n.inputs = inputs
        replace(i, with: [n])
    }

    public mutating func uniqueValueName(_ base: String) -> String { valueNames.unique(base) }
    public mutating func uniqueNodeName(_ base: String) -> String { nodeNames.unique(base) }

    public mutating func addConstant(_ name: String, _ t: Tensor, kind: ConstantKind) -> ValueID {
        graph.addConstant(name: valueNames.unique(name), tensor: t, kind: kind)
    }

    public mutating func addValue(_ name: String, _ type: TensorType) -> ValueID {
        graph.addValue(name: valueNames.unique(name), type: type)
    }

    /// The edited graph: replacements spliced in, erased nodes dropped, uses rewired.
    public mutating func finish() -> Graph {
        if !replacements.isEmpty {
            graph.nodes = graph.nodes.enumerated().flatMap { replacements[$0.offset] ?? [$0.element] }
        }
        graph.replaceUses(replaced)
        return graph
    }
}

extension Graph {
    /// Runs `body` with a rewriter over this graph and takes the result; returns the changes it reports.
    public mutating func rewrite(_ body: (inout GraphRewriter) throws -> Void) rethrows -> [String] {
        var r = GraphRewriter(self)
        self = Graph(name: name)  // the rewriter holds the only copy while it edits
        do { try body(&r) } catch {
            self = r.graph
            throw error
        }
        self = r.finish()
        return r.changes
    }
}
