/// Removes operations that return their input unchanged: Identity, a Reshape to the same shape, a
/// Transpose with the identity permutation, a one-input Concat, a one-output Split.
///
///     %y = Identity(%x)            ->   (uses of %y read %x)
///     %y = Reshape(%x, %s)   with type(%y) == type(%x)   ->   (uses of %y read %x)
///
/// A graph output keeps its name: the value that replaces it is renamed, unless it is itself a graph
/// input or output, in which case the node stays.
public let identityEliminationPass = Pass(name: "identity-elimination") { g in
    var changes: [String] = []
    var dead = Set<Int>()
    // Substitutions are recorded and applied in one walk; a node's input is read through them, so a
    // chain of identities collapses to its source.
    var replaced: [ValueID: ValueID] = [:]
    func resolve(_ v: ValueID) -> ValueID {
        var v = v
        while let r = replaced[v] { v = r }
        return v
    }
    for (i, n) in g.nodes.enumerated() {
        guard n.outputs.count == 1, let x = (n.inputs.first ?? nil).map(resolve) else { continue }
        let y = n.outputs[0]
        let isIdentity: Bool
        switch n.op {
        case "Identity": isIdentity = true
        case "Reshape", "Flatten", "Squeeze", "Unsqueeze": isIdentity = g.type(of: x) == g.type(of: y)
        case "Transpose": isIdentity = (n.ints("perm") ?? []) == Array(0..<g.type(of: x).rank)
        case "Concat", "Split": isIdentity = n.inputs.count == 1
        default: isIdentity = false
        }
        guard isIdentity else { continue }
        if g.outputs.contains(y), g.inputs.contains(x) || g.outputs.contains(x) { continue }
        replaced[y] = x
        dead.insert(i)
        changes.append("removed \(n.name)")
    }
    g.removeNodes(dead)
    g.replaceUses(replaced)
    return changes
}

extension Pass {
    public static let identityElimination = identityEliminationPass
}
