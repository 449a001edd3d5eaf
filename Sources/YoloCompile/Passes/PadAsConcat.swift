/// Writes a constant Pad as a Concat with constant blocks, for runtimes without Pad (libonnx):
///
///     %y = Pad(%x, [0,0,0,0, 0,0,1,2])     ->   %h = Concat(%x, zeros(N,C,1,W), axis=2)
///         (x: N, C, H, W)                       %y = Concat(%h, zeros(N,C,H+1,2), axis=3)
///
/// Exact. Other modes, negative pads (crops) and pads that are not constant are left alone.
public let padAsConcatPass = Pass(name: "pad-as-concat") { g in
    try g.rewrite { r in
        for i in r.indices where r.node(i).op == "Pad" {
            let n = r.node(i)
            guard try r.attributes(i).string("mode") == "constant", let x = r.input(i, 0), var shape = r.type(x).staticShape,
                  let pads = r.constant(r.input(i, 1))?.ints, pads.allSatisfy({ $0 >= 0 }) else { continue }
            let value: Float
            if let v = r.input(i, 2) {
                guard let t = r.constant(v), t.dtype == r.type(x).dtype, let f = t.floatValues.first else { continue }
                value = f
            } else { value = 0 }
            let rank = shape.count
            var axes = Array(0..<rank)
            if let a = r.input(i, 3) {
                guard let given = r.constant(a)?.ints else { continue }
                axes = given.map { Int($0) < 0 ? Int($0) + rank : Int($0) }
            }
            guard pads.count == 2 * axes.count, r.type(x).dtype.storage == .floats else { continue }
            var nodes: [Node] = []
            var current = x
            for (k, axis) in axes.enumerated() {
                let (b, e) = (Int(pads[k]), Int(pads[k + axes.count]))
                guard b > 0 || e > 0 else { continue }
                var parts: [ValueID] = []
                func block(_ size: Int) -> ValueID {
                    var s = shape
                    s[axis] = size
                    return r.addConstant(n.name + "_fill", Tensor(shape: s, values: [Double](repeating: Double(value), count: s.reduce(1, *)), dtype: r.type(x).dtype), kind: .constant)
                }
                if b > 0 { parts.append(block(b)) }
                parts.append(current)
                if e > 0 { parts.append(block(e)) }
                shape[axis] += b + e
                let y = r.addValue(n.name + "_padded", TensorType(r.type(x).dtype, shape))
                nodes.append(Node(op: "Concat", name: r.uniqueNodeName(n.name + "_concat"), inputs: parts, outputs: [y], attributes: ["axis": .int(axis)]))
                current = y
            }
            guard let last = nodes.indices.last else { continue }
            nodes[last].outputs = [n.outputs[0]]
            r.replace(i, with: nodes)
            r.changes.append("\(n.name): \(nodes.count) Concat\(nodes.count == 1 ? "" : "s")")
        }
    }
}

extension Pass {
    public static let padAsConcat = padAsConcatPass
}
