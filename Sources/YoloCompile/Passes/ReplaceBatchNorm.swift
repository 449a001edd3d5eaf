/// Replaces every BatchNormalization that FuseConvBatchNorm left (one with no Conv before it) by
/// exact arithmetic. Never dropped: PyTorch-side `replace_batchnorm` turns such a BN into Identity,
/// which changes the numbers.
///
/// Folded into the next Conv when that is its only reader and the Conv has no padding (padding
/// would see the shift where it should see zeros):
///
///     %z = BatchNormalization(%x, %g, %b, %m, %v)       %y = Conv(%x, %w', %b')
///     %y = Conv(%z, %w, %bc)                        ->  w'[o,c] = w[o,c] * k[c]
///                                                       b'[o] = bc[o] + sum_c,kh,kw w[o,c] * s[c]
/// Otherwise a per-channel scale and shift:
///
///     %z = BatchNormalization(%x, ...)              ->  %t = Mul(%x, %k)    k: f32[1,C,1,1]
///                                                       %z = Add(%t, %s)    s: f32[1,C,1,1]
public let replaceBatchNormPass = Pass(name: "replace-batchnorm") { g in
    var changes: [String] = []
    var rewritten: [Int: [Node]] = [:]
    let users = g.users()
    var names = NameAllocator(g)
    for (i, bn) in g.nodes.enumerated() where bn.op == "BatchNormalization" {
        guard let x = bn.inputs[0], let gammaID = bn.inputs[1], let gamma = g.constant(gammaID), let beta = g.constant(bn.inputs[2]),
              let mean = g.constant(bn.inputs[3]), let variance = g.constant(bn.inputs[4])
        else { continue }
        let (k, s) = batchNormAffine(scale: gamma.floats, bias: beta.floats, mean: mean.floats,
                                     variance: variance.floats, eps: bn.float("epsilon", default: 1e-5))
        let c = k.count
        let z = bn.outputs[0]
        // Fold forward into a single reading Conv without padding.
        if let readers = users[z], readers.count == 1, !g.outputs.contains(z), rewritten[readers[0]] == nil {
            let ci = readers[0]
            let conv = g.nodes[ci]
            if conv.op == "Conv", conv.inputs[0] == z, conv.int("group", default: 1) == 1,
               (conv.ints("pads") ?? [0]).allSatisfy({ $0 == 0 }),
               let wID = conv.inputs[1], let w = g.constant(wID), (users[wID] ?? []).count == 1
            {
                let oldBias = conv.inputs.count > 2 ? g.constant(conv.inputs[2]) : nil
                if !(conv.inputs.count > 2 && conv.inputs[2] != nil && oldBias == nil) {
                    let m = w.shape[0], taps = w.count / (m * c)
                    var fw = w.floats
                    var fb = (0..<m).map { Double(oldBias?.floats[$0] ?? 0) }
                    for o in 0..<m { for ch in 0..<c { for t in 0..<taps {
                        let idx = (o * c + ch) * taps + t
                        fb[o] += Double(w.floats[idx]) * s[ch]
                        fw[idx] = Float(Double(w.floats[idx]) * k[ch])
                    } } }
                    g.constants[wID]?.tensor = Tensor(shape: w.shape, floats: fw)
                    let wName = g.name(of: wID)
                    let prefix = wName.hasSuffix(".weight") ? String(wName.dropLast(7)) : wName
                    let b = g.addConstant(name: names.unique(prefix + ".bias" + (oldBias == nil ? "" : ".folded")),
                                          tensor: Tensor(shape: [m], floats: fb.map(Float.init)), kind: .parameter)
                    var newConv = conv
                    newConv.inputs = [x, wID, b]
                    rewritten[ci] = [newConv]
                    rewritten[i] = []
                    changes.append("\(bn.name) folded into the following \(conv.name)")
                    continue
                }
            }
        }
        let gammaName = g.name(of: gammaID)
        let prefix = gammaName.hasSuffix(".weight") ? String(gammaName.dropLast(7)) : bn.name
        let kc = g.addConstant(name: names.unique(prefix + ".scale"), tensor: Tensor(shape: [1, c, 1, 1], floats: k.map(Float.init)), kind: .parameter)
        let sc = g.addConstant(name: names.unique(prefix + ".shift"), tensor: Tensor(shape: [1, c, 1, 1], floats: s.map(Float.init)), kind: .parameter)
        let t = g.addValue(name: names.unique(bn.name + "/Mul_output_0"), type: g.type(of: x))
        rewritten[i] = [
            Node(op: "Mul", name: bn.name + "/Mul", inputs: [x, kc], outputs: [t]),
            Node(op: "Add", name: bn.name + "/Add", inputs: [t, sc], outputs: [z]),
        ]
        changes.append("\(bn.name) became a per-channel scale and shift")
    }
    if rewritten.isEmpty { return [] }
    g.nodes = g.nodes.enumerated().flatMap { rewritten[$0.offset] ?? [$0.element] }
    return changes
}

extension Pass {
    public static let replaceBatchNorm = replaceBatchNormPass
}
