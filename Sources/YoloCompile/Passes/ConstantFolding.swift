/// Evaluates, with the interpreter's kernels, every node whose inputs are all constants, and every
/// Shape or Size of a static tensor, replacing its outputs by constants:
///
///     %a = Slice(%model.24.anchors, [0], [1], [0])     const %a: f32[1,3,2] = [1.25,1.625,...]
///     %p = Mul(%a, 8.0)                           ->   const %p: f32[1,3,2] = [10,13,...]
///     %s = Shape(%x)                                   const %s: i64[4] = [1,3,640,640]
///
/// within a budget (`FoldingBudget`): a constant subgraph over it stays a node. The dead inputs are
/// left for dead-code elimination. A relayout of a trained tensor (a Linear weight's Transpose) or a
/// slice of one (MultiheadAttention's q, k and v thirds of in_proj_weight) stays a parameter, so
/// parameter counts survive the fold; anything computed from one (a gathered bias table) is a derived
/// constant. The folding itself is `GraphInference`'s, the step a reader takes per node.
public let constantFoldingPass = Pass(name: "constant-folding") { g in
    let before = g.nodes
    var budget = FoldingBudget.forConstants(g.constantElementCount(kinds: [.parameter, .buffer, .constant]))
    try GraphInference.run(&g, budget: &budget)
    // Nodes keep their order, so the folded ones are those the walk did not keep.
    var changes: [String] = []
    var k = 0
    for n in before {
        if k < g.nodes.count && g.nodes[k] == n { k += 1 } else { changes.append("folded \(n.name)") }
    }
    return changes
}

extension Pass {
    public static let constantFolding = constantFoldingPass
}
