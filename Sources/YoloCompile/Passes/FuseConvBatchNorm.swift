/// Folds a BatchNormalization into the Conv that feeds it, when the Conv's output has no other use:
///
///     %y = Conv(%x, %w)                         %y = Conv(%x, %w', %b')
///     %z = BatchNormalization(%y, %g, %b, %m, %v)   ->  (uses of %z read %y)
///
/// with k = g / sqrt(v + eps), w' = w * k (per output channel), b' = (b_conv - m) * k + b,
/// computed in Double and rounded once. The fused weight keeps the conv's parameter name; the bias
/// is named beside it (`model.0.conv.bias`), as PyTorch's fuse_conv_and_bn leaves them.
public let fuseConvBatchNormPass = Pass(name: "fuse-conv-batchnorm") { g in
    try g.rewrite { r in
        for i in r.indices where r.node(i).op == "BatchNormalization" {
            let bn = r.node(i)
            guard bn.outputs.count == 1, try r.attributes(i).int("training_mode") == 0,
                  let y = r.input(i, 0), let ci = r.producer(of: y), r.node(ci).op == "Conv",
                  !r.hasOtherUses(y, except: i), r.type(y).dtype == .float32,
                  let gamma = r.constant(bn.inputs[1]), let beta = r.constant(bn.inputs[2]),
                  let mean = r.constant(bn.inputs[3]), let variance = r.constant(bn.inputs[4]),
                  let wID = r.input(ci, 1), let w = r.constant(wID)
            else { continue }
            let conv = r.node(ci)
            let oldBias = r.constant(r.input(ci, 2))
            if r.input(ci, 2) != nil, oldBias == nil { continue }
            let (k, s) = batchNormAffine(scale: gamma.floatValues, bias: beta.floatValues, mean: mean.floatValues,
                                         variance: variance.floatValues, eps: try r.attributes(i).float("epsilon"))
            let m = w.shape[0], per = w.count / m
            var fw = w.floats
            for o in 0..<m { for j in 0..<per { fw[o * per + j] = Float(Double(fw[o * per + j]) * k[o]) } }
            let fb = (0..<m).map { o in Float(Double(oldBias?.floats[o] ?? 0) * k[o] + s[o]) }
            let wName = r.graph.name(of: wID)
            let prefix = wName.hasSuffix(".weight") ? String(wName.dropLast(7)) : wName
            // A weight shared with another node keeps its value there; this conv gets its own copy.
            let newW: ValueID
            if r.readers(of: wID).count == 1 && !r.graph.outputs.contains(wID) {
                newW = wID
                r.graph.constants[wID]?.tensor = Tensor(shape: w.shape, floats: fw)
            } else {
                newW = r.addConstant(wName + ".fused", Tensor(shape: w.shape, floats: fw), kind: .parameter)
            }
            let newB = r.addConstant(prefix + ".bias" + (oldBias == nil ? "" : ".fused"), Tensor(shape: [m], floats: fb), kind: .parameter)
            r.setInputs(ci, [conv.inputs[0].map(r.resolve), newW, newB])
            r.replaceUses(of: bn.outputs[0], with: y)
            r.erase(i)
            r.changes.append("\(bn.name) folded into \(conv.name)")
        }
    }
}

extension Pass {
    public static let fuseConvBatchNorm = fuseConvBatchNormPass
}
