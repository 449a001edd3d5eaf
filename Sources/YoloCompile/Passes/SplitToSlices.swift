/// Writes a Split as one Slice per output, for runtimes without Split (libonnx):
///
///     %a, %b = Split(%x, [2, 3], axis=1)    ->    %a = Slice(%x, [0], [2], [1])
///                                                 %b = Slice(%x, [2], [5], [1])
///
/// Exact: each Slice copies the same elements. Only static splits are rewritten.
public let splitToSlicesPass = Pass(name: "split-to-slices") { g in
    try g.rewrite { r in
        for i in r.indices where r.node(i).op == "Split" {
            let n = r.node(i)
            guard let x = r.input(i, 0), let shape = r.type(x).staticShape else { continue }
            let a = try r.attributes(i).int("axis")
            let axis = a < 0 ? a + shape.count : a
            guard shape.indices.contains(axis) else { continue }
            var start = 0
            var nodes: [Node] = []
            for (k, out) in n.outputs.enumerated() {
                guard let size = r.type(out).staticShape?[axis] else { break }
                let starts = r.addConstant(n.name + "_starts_\(k)", .vector([start]), kind: .constant)
                let ends = r.addConstant(n.name + "_ends_\(k)", .vector([start + size]), kind: .constant)
                let axes = r.addConstant(n.name + "_axes_\(k)", .vector([axis]), kind: .constant)
                nodes.append(Node(op: "Slice", name: r.uniqueNodeName(n.name + "_slice_\(k)"), inputs: [x, starts, ends, axes], outputs: [out]))
                start += size
            }
            guard nodes.count == n.outputs.count else { continue }
            r.replace(i, with: nodes)
            r.changes.append("\(n.name): \(nodes.count) Slices")
        }
    }
}

extension Pass {
    public static let splitToSlices = splitToSlicesPass
}
