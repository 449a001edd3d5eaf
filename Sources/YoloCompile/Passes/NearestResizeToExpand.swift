/// Writes a nearest upsample by whole factors as a broadcast, for runtimes without Resize (libonnx)
/// or that prefer plain copies. PyTorch's nearest (asymmetric, floor) at an integer scale repeats each
/// pixel sh x sw times, which is exactly:
///
///     %y = Resize(%x, scales=[1, 1, sh, sw])      %v = Reshape(%x, [N*C*H, 1, W, 1])
///         (x: N, C, H, W)                     ->  %e = Expand(%v, [N*C*H, sh, W, sw])
///                                                 %y = Reshape(%e, [N, C, H*sh, W*sw])
///
/// Every tensor stays rank 4. Resizes with other modes, fractional factors or resized batch and
/// channels are left alone.
public let nearestResizeToExpandPass = Pass(name: "nearest-resize-to-expand") { g in
    try g.rewrite { r in
        for i in r.indices where r.node(i).op == "Resize" {
            let n = r.node(i)
            guard let x = r.input(i, 0), let s = r.type(x).staticShape, s.count == 4,
                  let o = r.type(n.outputs[0]).staticShape, o.count == 4, o[0] == s[0], o[1] == s[1],
                  s[2] > 0, s[3] > 0, o[2] % s[2] == 0, o[3] % s[3] == 0 else { continue }
            let a = try r.attributes(i)
            guard a.string("mode") == "nearest", a.string("coordinate_transformation_mode") == "asymmetric",
                  a.string("nearest_mode") == "floor" else { continue }
            let (sh, sw) = (o[2] / s[2], o[3] / s[3])
            let rows = s[0] * s[1] * s[2]
            let view = r.addValue(n.name + "_view", TensorType(r.type(x).dtype, [rows, 1, s[3], 1]))
            let wide = r.addValue(n.name + "_expanded", TensorType(r.type(x).dtype, [rows, sh, s[3], sw]))
            let c1 = r.addConstant(n.name + "_view_shape", .vector([rows, 1, s[3], 1]), kind: .constant)
            let c2 = r.addConstant(n.name + "_expand_shape", .vector([rows, sh, s[3], sw]), kind: .constant)
            let c3 = r.addConstant(n.name + "_shape", .vector(o), kind: .constant)
            r.replace(i, with: [
                Node(op: "Reshape", name: r.uniqueNodeName(n.name + "_reshape"), inputs: [x, c1], outputs: [view]),
                Node(op: "Expand", name: r.uniqueNodeName(n.name + "_expand"), inputs: [view, c2], outputs: [wide]),
                Node(op: "Reshape", name: r.uniqueNodeName(n.name + "_reshape_back"), inputs: [wide, c3], outputs: [n.outputs[0]]),
            ])
            r.changes.append("\(n.name): x\(sh)x\(sw) as Reshape, Expand, Reshape")
        }
    }
}

extension Pass {
    public static let nearestResizeToExpand = nearestResizeToExpandPass
}
