/// Removes operations that return their input unchanged, as each operator's declaration defines it
/// (`OperatorSchema.isIdentity`): Identity, inference Dropout, a Reshape to the same shape, a Transpose
/// with the identity permutation, a one-input Concat, a one-output Split, ...
///
///     %y = Identity(%x)            ->   (uses of %y read %x)
///     %y = Reshape(%x, %s)   with type(%y) == type(%x)   ->   (uses of %y read %x)
///
/// A graph output keeps its name: the value that replaces it is renamed, unless it is itself a graph
/// input or output, in which case the node stays.
public let identityEliminationPass = Pass(name: "identity-elimination") { g in
    try g.rewrite { r in
        for i in r.indices {
            let n = r.node(i)
            guard n.outputs.count >= 1, let x = r.input(i, 0), let schema = Operators.schema(n.op),
                  let isIdentity = schema.isIdentity else { continue }
            let y = n.outputs[0]
            let query = IdentityQuery(node: n, attributes: try r.attributes(i), inputTypes: n.inputs.map { $0.map(r.type) },
                                      outputTypes: n.outputs.map(r.type), constants: n.inputs.map { r.constant($0) })
            guard isIdentity(query), r.type(x) == r.type(y) else { continue }
            // Other outputs (Dropout's mask) must be unread.
            guard n.outputs.dropFirst().allSatisfy({ !r.hasOtherUses($0, except: -1) }) else { continue }
            if r.graph.outputs.contains(y), r.graph.inputs.contains(x) || r.graph.outputs.contains(x) { continue }
            r.replaceUses(of: y, with: x)
            r.erase(i)
            r.changes.append("removed \(n.name)")
        }
    }
}

extension Pass {
    public static let identityElimination = identityEliminationPass
}
