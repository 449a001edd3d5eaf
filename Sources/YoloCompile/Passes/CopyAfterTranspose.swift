/// Puts an Identity after every Transpose, for libonnx (e6129dab): its Transpose permutes the output's
/// dimensions but keeps the input's strides, so a consumer that indexes through strides (a
/// broadcasting Add or Mul, MatMul, Where) reads the wrong elements; its Identity copies into a
/// fresh, correctly strided tensor. Identity changes nothing.
///
///     %y = Transpose(%x)    ->    %t = Transpose(%x);  %y = Identity(%t)
public let copyAfterTransposePass = Pass(name: "copy-after-transpose") { g in
    g.rewrite { r in
        for i in r.indices where r.node(i).op == "Transpose" {
            var n = r.node(i)
            guard let y = n.outputs.first else { continue }
            let t = r.addValue(n.name + "_strided", r.type(y))
            n.outputs = [t]
            r.replace(i, with: [n, Node(op: "Identity", name: r.uniqueNodeName(n.name + "_copy"), inputs: [t], outputs: [y])])
            r.changes.append("\(n.name): copied")
        }
    }
}

extension Pass {
    public static let copyAfterTranspose = copyAfterTransposePass
}
