/// Whether two graphs compute the same thing: the same nodes in the same order (operator and
/// attributes), each input coming from the same place (the same graph input, the same output of the
/// same node, or a constant of equal value), and the same types. Value ids and names may differ, so a
/// graph can be compared with one that was rewritten and folded back.
public enum GraphComparison {
    /// The first difference, described, or nil when there is none. With `reshapeByResult`, Reshapes
    /// need only agree on their result's type, not on how the shape is written (0 and -1 against sizes).
    public static func firstDifference(_ a: Graph, _ b: Graph, reshapeByResult: Bool = false) -> String? {
        guard a.inputs.count == b.inputs.count else { return "\(a.inputs.count) inputs against \(b.inputs.count)" }
        guard a.nodes.count == b.nodes.count else { return "\(a.nodes.count) nodes against \(b.nodes.count)" }
        let (pa, pb) = (a.producers(), b.producers())
        func source(_ g: Graph, _ producers: [ValueID: Int], _ v: ValueID?) -> Source {
            guard let v else { return .absent }
            if let k = g.inputs.firstIndex(of: v) { return .input(k) }
            if let c = g.constants[v] { return .constant(c.tensor) }
            if let p = producers[v], let k = g.nodes[p].outputs.firstIndex(of: v) { return .node(p, k) }
            return .absent
        }
        for (i, (x, y)) in zip(a.nodes, b.nodes).enumerated() {
            let at = "node \(i) (\(x.name), \(x.op))"
            guard x.op == y.op else { return "\(at) is \(y.op) in the other graph" }
            guard x.attributes == y.attributes else { return "\(at) has other attributes" }
            guard x.inputs.count == y.inputs.count, x.outputs.count == y.outputs.count else { return "\(at) has other arity" }
            for (k, (u, v)) in zip(x.inputs, y.inputs).enumerated() where !(reshapeByResult && x.op == "Reshape" && k == 1) {
                let (su, sv) = (source(a, pa, u), source(b, pb, v))
                guard su == sv else { return "\(at) input \(k) is \(su) against \(sv)" }
            }
            for (k, (u, v)) in zip(x.outputs, y.outputs).enumerated() where a.type(of: u) != b.type(of: v) {
                return "\(at) output \(k) is \(a.type(of: u)) against \(b.type(of: v))"
            }
        }
        let (oa, ob) = (a.outputs.map { source(a, pa, $0) }, b.outputs.map { source(b, pb, $0) })
        guard oa == ob else { return "the graph outputs come from other places" }
        return nil
    }

    enum Source: Equatable, CustomStringConvertible {
        case absent
        case input(Int)
        case node(Int, Int)
        case constant(Tensor)

        var description: String {
            switch self {
            case .absent: return "absent"
            case .input(let k): return "graph input \(k)"
            case .node(let n, let k): return "output \(k) of node \(n)"
            case .constant(let t): return "a constant \(t.type)"
            }
        }
    }
}
