/// Removes nodes none of whose outputs is read (or is a graph output), and constants nothing reads.
///
///     %a = Sigmoid(%x)        (%a unused)    ->   (removed)
///     param %model.24.anchors (unused)       ->   (removed)
public let deadCodeEliminationPass = Pass(name: "dead-code-elimination") { g in
    var live = Set(g.outputs)
    var dead = Set<Int>()
    var changes: [String] = []
    for (i, n) in g.nodes.enumerated().reversed() {
        if n.outputs.contains(where: live.contains) {
            for v in n.inputs.compactMap({ $0 }) { live.insert(v) }
        } else {
            dead.insert(i)
            changes.append("removed \(n.name)")
        }
    }
    g.removeNodes(dead)
    for (v, _) in g.orderedConstants where !live.contains(v) {
        g.removeConstant(v)
        changes.append("removed constant \(g.name(of: v))")
    }
    return changes
}

extension Pass {
    public static let deadCodeElimination = deadCodeEliminationPass
}
