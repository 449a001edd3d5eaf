/// Gives each constant operand of a broadcasting binary operator the rank of the other operand, by
/// leading 1s: (2100) beside (1, 17, 2, 2100) becomes (1, 1, 1, 2100). NumPy broadcasting aligns shapes
/// from the right, so this changes nothing; it is for pnnx, which turns a constant read at two ranks
/// into one ncnn blob and then broadcasts it wrongly at the larger rank (Pose's stride row).
///
///     %y = Mul(%x: f32[1,17,2,2100], %c: f32[1,2100])   ->   %y = Mul(%x, %c': f32[1,1,1,2100])
///
/// A constant read elsewhere at its own rank is copied, not changed.
public let constantsAtFullRankPass = Pass(name: "constants-at-full-rank") { g in
    g.rewrite { r in
        let binary: Set<String> = ["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Where", "Equal", "Greater", "Less"]
        for i in r.indices where binary.contains(r.node(i).op) {
            let n = r.node(i)
            let rank = n.inputs.compactMap { $0.map { r.type($0).rank } }.max() ?? 0
            var inputs = n.inputs
            var changed = false
            for (k, v) in n.inputs.enumerated() {
                guard let v, let t = r.constant(v), t.shape.count < rank, t.count > 1 else { continue }
                var widened = t
                widened.shape = [Int](repeating: 1, count: rank - t.shape.count) + t.shape
                inputs[k] = r.addConstant(r.graph.name(of: v) + "_rank\(rank)", widened, kind: r.graph.constants[v]?.kind ?? .constant)
                changed = true
            }
            guard changed else { continue }
            r.setInputs(i, inputs)
            r.changes.append("\(n.name): constants at rank \(rank)")
        }
    }
}

extension Pass {
    public static let constantsAtFullRank = constantsAtFullRankPass
}
