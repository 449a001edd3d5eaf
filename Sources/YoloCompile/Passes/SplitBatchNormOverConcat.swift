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
    try g.rewrite { r in
        /// A Conv that fuse-conv-batchnorm can fold into: constant weight, constant or absent bias.
        func foldableConv(_ v: ValueID) -> Bool {
            guard let p = r.producer(of: v), r.node(p).op == "Conv", r.constant(r.input(p, 1)) != nil else { return false }
            return r.input(p, 2) == nil || r.constant(r.input(p, 2)) != nil
        }
        for i in r.indices where r.node(i).op == "BatchNormalization" {
            let bn = r.node(i)
            guard bn.inputs.count == 5, bn.outputs.count == 1, try r.attributes(i).int("training_mode") == 0, let c = r.input(i, 0), let ci = r.producer(of: c), r.node(ci).op == "Concat",
                  !r.isEdited(ci), r.type(c).rank == 4, r.type(c).dtype == .float32,
                  [1, -3].contains(try r.attributes(ci).int("axis")), !r.hasOtherUses(c, except: i)
            else { continue }
            let params = bn.inputs[1...4].compactMap { $0.flatMap { v in r.constant(v).map { (v, $0) } } }
            let parts = r.node(ci).inputs.compactMap { $0.map(r.resolve) }
            guard params.count == 4, parts.count == r.node(ci).inputs.count, parts.count > 1, Set(parts).count == parts.count,
                  parts.allSatisfy({ foldableConv($0) && !r.hasOtherUses($0, except: ci) })
            else { continue }
            var start = 0
            var pieces: [Node] = []
            var outs: [ValueID] = []
            for (k, v) in parts.enumerated() {
                let t = r.type(v), n = t.shape[1]
                var inputs: [ValueID?] = [v]
                for (src, p) in params {
                    let slice = Tensor(shape: [n], floats: Array(p.floats[start..<(start + n)]))
                    inputs.append(r.addConstant(r.graph.name(of: src) + ".\(k)", slice, kind: r.graph.constants[src]?.kind ?? .parameter))
                }
                let out = r.addValue(bn.name + "_\(k)_output_0", t)
                pieces.append(Node(op: "BatchNormalization", name: r.uniqueNodeName(bn.name + "_\(k)"), inputs: inputs, outputs: [out],
                                   attributes: bn.attributes))
                outs.append(out)
                start += n
            }
            var concat = r.node(ci)
            concat.inputs = outs
            concat.outputs = bn.outputs
            r.replace(i, with: pieces + [concat])
            r.erase(ci)
            r.changes.append("\(bn.name) split over the \(parts.count) inputs of \(concat.name)")
        }
    }
}

extension Pass {
    public static let splitBatchNormOverConcat = splitBatchNormOverConcatPass
}
