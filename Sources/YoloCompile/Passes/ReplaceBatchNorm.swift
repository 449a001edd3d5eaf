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
    try g.rewrite { r in
        for i in r.indices where r.node(i).op == "BatchNormalization" {
            let bn = r.node(i)
            guard bn.outputs.count == 1, try r.attributes(i).int("training_mode") == 0,
                  let x = r.input(i, 0), r.type(x).dtype == .float32, let gammaID = r.input(i, 1), let gamma = r.constant(gammaID),
                  let beta = r.constant(bn.inputs[2]), let mean = r.constant(bn.inputs[3]), let variance = r.constant(bn.inputs[4])
            else { continue }
            let (k, s) = batchNormAffine(scale: gamma.floatValues, bias: beta.floatValues, mean: mean.floatValues,
                                         variance: variance.floatValues, eps: try r.attributes(i).float("epsilon"))
            let c = k.count
            let z = bn.outputs[0]
            // Fold forward into a single reading Conv without padding.
            let readers = r.readers(of: z)
            if readers.count == 1, !r.graph.outputs.contains(z), !r.isEdited(readers[0]) {
                let ci = readers[0]
                let conv = r.node(ci)
                let a = try r.attributes(ci)
                if conv.op == "Conv", r.input(ci, 0) == z, a.int("group") == 1, ["NOTSET", "VALID"].contains(a.string("auto_pad")),
                   (a.ints("pads") ?? [0]).allSatisfy({ $0 == 0 }),
                   let wID = r.input(ci, 1), let w = r.constant(wID), r.readers(of: wID).count == 1
                {
                    let oldBias = r.constant(r.input(ci, 2))
                    if !(r.input(ci, 2) != nil && oldBias == nil) {
                        let m = w.shape[0], taps = w.count / (m * c)
                        var fw = w.floats
                        var fb = (0..<m).map { Double(oldBias?.floats[$0] ?? 0) }
                        for o in 0..<m { for ch in 0..<c { for t in 0..<taps {
                            let idx = (o * c + ch) * taps + t
                            fb[o] += Double(w.floats[idx]) * s[ch]
                            fw[idx] = Float(Double(w.floats[idx]) * k[ch])
                        } } }
                        r.graph.constants[wID]?.tensor = Tensor(shape: w.shape, floats: fw)
                        let wName = r.graph.name(of: wID)
                        let prefix = wName.hasSuffix(".weight") ? String(wName.dropLast(7)) : wName
                        let b = r.addConstant(prefix + ".bias" + (oldBias == nil ? "" : ".folded"),
                                              Tensor(shape: [m], floats: fb.map(Float.init)), kind: .parameter)
                        r.setInputs(ci, [x, wID, b])
                        r.erase(i)
                        r.changes.append("\(bn.name) folded into the following \(conv.name)")
                        continue
                    }
                }
            }
            let gammaName = r.graph.name(of: gammaID)
            let prefix = gammaName.hasSuffix(".weight") ? String(gammaName.dropLast(7)) : bn.name
            let shape = [1, c] + [Int](repeating: 1, count: max(r.type(x).rank - 2, 0))
            let kc = r.addConstant(prefix + ".scale", Tensor(shape: shape, floats: k.map(Float.init)), kind: .parameter)
            let sc = r.addConstant(prefix + ".shift", Tensor(shape: shape, floats: s.map(Float.init)), kind: .parameter)
            let t = r.addValue(bn.name + "/Mul_output_0", r.type(x))
            r.replace(i, with: [
                Node(op: "Mul", name: bn.name + "/Mul", inputs: [x, kc], outputs: [t]),
                Node(op: "Add", name: bn.name + "/Add", inputs: [t, sc], outputs: [z]),
            ])
            r.changes.append("\(bn.name) became a per-channel scale and shift")
        }
    }
}

extension Pass {
    public static let replaceBatchNorm = replaceBatchNormPass
}
