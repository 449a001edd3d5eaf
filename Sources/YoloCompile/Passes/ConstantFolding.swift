/// Evaluates, with the interpreter's kernels, every node whose inputs are all constants, and every
/// Shape node (shapes are static), replacing its outputs by constants:
///
///     %a = Slice(%model.24.anchors, [0], [1], [0])     const %a: f32[1,3,2] = [1.25,1.625,...]
///     %p = Mul(%a, 8.0)                           ->   const %p: f32[1,3,2] = [10,13,...]
///     %s = Shape(%x)                                   const %s: i64[4] = [1,3,640,640]
///
/// The dead inputs are left for dead-code elimination. A relayout of a trained tensor (a Linear
/// weight's Transpose) or a slice of one (MultiheadAttention's q, k and v thirds of in_proj_weight)
/// stays a parameter, so parameter counts survive the fold; anything computed from one (a gathered
/// bias table) is a derived constant.
public let constantFoldingPass = Pass(name: "constant-folding") { g in
    var changes: [String] = []
    var dead = Set<Int>()
    for (i, n) in g.nodes.enumerated() {
        let folded: [Tensor]
        if n.op == "Shape", let x = n.inputs.first ?? nil {
            folded = [Tensor.vector(g.type(of: x).shape)]
        } else {
            var inputs: [Tensor?] = []
            for v in n.inputs {
                guard let v else { inputs.append(nil); continue }
                guard let t = g.constants[v]?.tensor else { break }
                inputs.append(t)
            }
            guard !n.inputs.isEmpty, inputs.count == n.inputs.count else { continue }
            folded = try Kernels.run(KernelContext(node: n, inputs: inputs, outputTypes: n.outputs.map(g.type(of:))))
        }
        let relayout = ["Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Slice"].contains(n.op)
            && n.inputs.first.flatMap { $0.flatMap { g.constants[$0]?.kind } } == .parameter
        for (v, t) in zip(n.outputs, folded) {
            g.constants[v] = Constant(tensor: t, kind: relayout ? .parameter : .constant)
            g.constantOrder.append(v)
        }
        dead.insert(i)
        changes.append("folded \(n.name)")
    }
    g.removeNodes(dead)
    return changes
}

extension Pass {
    public static let constantFolding = constantFoldingPass
}
