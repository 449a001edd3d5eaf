/// Folds a BatchNormalization into the Conv that feeds it, when the Conv's output has no other use:
///
///     %y = Conv(%x, %w)                         %y = Conv(%x, %w', %b')
///     %z = BatchNormalization(%y, %g, %b, %m, %v)   ->  (uses of %z read %y)
///
/// with k = g / sqrt(v + eps), w' = w * k (per output channel), b' = (b_conv - m) * k + b,
/// computed in Double and rounded once. The fused weight keeps the conv's parameter name; the bias
/// is named beside it (`model.0.conv.bias`), as PyTorch's fuse_conv_and_bn leaves them.
public let fuseConvBatchNormPass = Pass(name: "fuse-conv-batchnorm") { g in
    var changes: [String] = []
    // Users, producers and names are computed once; each fold updates `users` for the one value it
    // rewires and records the substitution, applied to the graph in one walk at the end.
    var users = g.users()
    let producers = g.producers()
    var names = NameAllocator(g)
    var replaced: [ValueID: ValueID] = [:]
    func resolve(_ v: ValueID) -> ValueID {
        var v = v
        while let r = replaced[v] { v = r }
        return v
    }
    var dead = Set<Int>()
    for i in g.nodes.indices where g.nodes[i].op == "BatchNormalization" {
        let bn = g.nodes[i]
        guard let y = bn.inputs[0].map(resolve), let ci = producers[y], g.nodes[ci].op == "Conv",
              !g.hasOtherUses(y, except: i, users: users),
              let gamma = g.constant(bn.inputs[1]), let beta = g.constant(bn.inputs[2]),
              let mean = g.constant(bn.inputs[3]), let variance = g.constant(bn.inputs[4]),
              let wID = g.nodes[ci].inputs[1], let w = g.constant(wID)
        else { continue }
        let conv = g.nodes[ci]
        let oldBias = conv.inputs.count > 2 ? g.constant(conv.inputs[2]) : nil
        if conv.inputs.count > 2, conv.inputs[2] != nil, oldBias == nil { continue }
        let (k, s) = batchNormAffine(scale: gamma.floats, bias: beta.floats, mean: mean.floats,
                                     variance: variance.floats, eps: bn.float("epsilon", default: 1e-5))
        let m = w.shape[0], per = w.count / m
        var fw = w.floats
        for o in 0..<m { for j in 0..<per { fw[o * per + j] = Float(Double(fw[o * per + j]) * k[o]) } }
        let fb = (0..<m).map { o in Float(Double(oldBias?.floats[o] ?? 0) * k[o] + s[o]) }
        let wName = g.name(of: wID)
        let prefix = wName.hasSuffix(".weight") ? String(wName.dropLast(7)) : wName
        // A weight shared with another node keeps its value there; this conv gets its own copy.
        let newW: ValueID
        if (users[wID] ?? []).count == 1 && !g.outputs.contains(wID) {
            newW = wID
            g.constants[wID]?.tensor = Tensor(shape: w.shape, floats: fw)
        } else {
            newW = g.addConstant(name: names.unique(wName + ".fused"), tensor: Tensor(shape: w.shape, floats: fw), kind: .parameter)
        }
        let newB = g.addConstant(name: names.unique(prefix + ".bias" + (oldBias == nil ? "" : ".fused")),
                                 tensor: Tensor(shape: [m], floats: fb), kind: .parameter)
        g.nodes[ci].inputs = [conv.inputs[0], newW, newB]
        // The BN's readers now read y.
        let z = bn.outputs[0]
        replaced[z] = y
        users[y] = (users[y] ?? []).filter { $0 != i } + (users[z] ?? [])
        dead.insert(i)
        changes.append("\(bn.name) folded into \(conv.name)")
    }
    g.removeNodes(dead)
    g.replaceUses(replaced)
    return changes
}

extension Pass {
    public static let fuseConvBatchNorm = fuseConvBatchNormPass
}
