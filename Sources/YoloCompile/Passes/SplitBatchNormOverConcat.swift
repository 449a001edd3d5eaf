/// Moves a BatchNormalization that reads a channel Concat of Conv outputs onto each Conv, so that
/// fuse-conv-batchnorm can fold every piece (MixConv2d's and BottleneckCSP's `bn` sit after a Concat):
///
///     %a = Conv(%x, %wa)                         %a = Conv(%x, %wa)
///     %b = Conv(%x, %wb)                         %b = Conv(%x, %wb)
///     %c = Concat(%a, %b) {axis=1}        ->     %a' = BatchNormalization(%a, %g[:2], %b[:2], %m[:2], %v[:2])
///     %y = BatchNormalization(%c, %g, %b, %m, %v) %b' = BatchNormalization(%b, %g[2:], ...)
///                                                %y = Concat(%a', %b') {axis=1}
///
/// Each channel is normalised by its own statistics either way, so the values are unchanged. Applies
/// only when the Concat feeds nothing else and each input is a Conv output read only by the Concat
/// (otherwise a piece could not be folded, and splitting would only add nodes).
public let splitBatchNormOverConcatPass = Pass(name: "split-batchnorm-over-concat") { g in
    var changes: [String] = []
    let users = g.users()
    let producers = g.producers()
    var names = NameAllocator(g)
    var nodeNames = NameAllocator(names: g.nodes.map(\.name))
    var rewrites: [Int: (concat: Int, nodes: [Node])] = [:]
    /// A Conv that fuse-conv-batchnorm can fold into: constant weight, constant or absent bias.
    func foldableConv(_ v: ValueID) -> Bool {
        guard let p = producers[v], g.nodes[p].op == "Conv", g.constant(g.nodes[p].inputs[1]) != nil else { return false }
        let conv = g.nodes[p]
        return conv.inputs.count < 3 || conv.inputs[2] == nil || g.constant(conv.inputs[2]) != nil
    }
    for i in g.nodes.indices where g.nodes[i].op == "BatchNormalization" {
        let bn = g.nodes[i]
        guard bn.inputs.count == 5, let c = bn.inputs[0], let ci = producers[c], g.nodes[ci].op == "Concat",
              g.type(of: c).rank == 4, [1, -3].contains(g.nodes[ci].int("axis", default: 0)),
              !g.hasOtherUses(c, except: i, users: users)
        else { continue }
        let params = bn.inputs[1...4].compactMap { $0.flatMap { v in g.constant(v).map { (v, $0) } } }
        let parts = g.nodes[ci].inputs.compactMap { $0 }
        guard params.count == 4, parts.count == g.nodes[ci].inputs.count, parts.count > 1, Set(parts).count == parts.count,
              parts.allSatisfy({ foldableConv($0) && !g.hasOtherUses($0, except: ci, users: users) })
        else { continue }
        let prefix = g.nodes[i].name
        var start = 0
        var pieces: [Node] = []
        var outs: [ValueID] = []
        for (k, v) in parts.enumerated() {
            let t = g.type(of: v), n = t.shape[1]
            var inputs: [ValueID?] = [v]
            for (src, p) in params {
                let slice = Tensor(shape: [n], floats: Array(p.floats[start..<(start + n)]))
                let kind = g.constants[src]?.kind ?? .parameter
                inputs.append(g.addConstant(name: names.unique(g.name(of: src) + ".\(k)"), tensor: slice, kind: kind))
            }
            let out = g.addValue(name: names.unique(prefix + "_\(k)_output_0"), type: t)
            pieces.append(Node(op: "BatchNormalization", name: nodeNames.unique(prefix + "_\(k)"), inputs: inputs, outputs: [out],
                               attributes: bn.attributes))
            outs.append(out)
            start += n
        }
        var concat = g.nodes[ci]
        concat.inputs = outs
        concat.outputs = bn.outputs
        rewrites[i] = (ci, pieces + [concat])
        changes.append("\(bn.name) split over the \(parts.count) inputs of \(concat.name)")
    }
    guard !rewrites.isEmpty else { return [] }
    let removed = Set(rewrites.values.map(\.concat))
    var nodes: [Node] = []
    for (i, n) in g.nodes.enumerated() where !removed.contains(i) {
        if let r = rewrites[i] { nodes += r.nodes } else { nodes.append(n) }
    }
    g.nodes = nodes
    return changes
}

extension Pass {
    public static let splitBatchNormOverConcat = splitBatchNormOverConcatPass
}
