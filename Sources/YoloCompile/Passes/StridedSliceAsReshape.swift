/// Writes a Slice with steps (Focus's x[..., ::2, 1::2]) as a view that splits each strided axis into
/// (length, step) and a step-1 Slice of the phase, for runtimes without strided slices (ncnn):
///
///     %y = Slice(%x, starts=[0, 1], ends=[max, max], axes=[2, 3], steps=[2, 2])
///         (x: 1, C, H, W)
///  ->
///     %v = Reshape(%x, [1, C*H/2, 2, W/2, 2])
///     %p = Slice(%v, starts=[0, 1], ends=[1, 2], axes=[2, 4])
///     %y = Reshape(%p, [1, C, H/2, W/2])
///
/// The axes before the first strided one are merged (keeping a leading batch of 1 apart). Exact. A
/// slice is rewritten only when each strided axis is a whole number of steps and taken from a start
/// below the step to its end.
public let stridedSliceAsReshapePass = Pass(name: "strided-slice-as-reshape") { g in
    g.rewrite { r in
        for i in r.indices where r.node(i).op == "Slice" {
            let n = r.node(i)
            guard let x = r.input(i, 0), let s = r.type(x).staticShape, let out = n.outputs.first, let o = r.type(out).staticShape,
                  let starts = r.constant(r.input(i, 1))?.ints, let stepsInput = r.input(i, 4), let steps = r.constant(stepsInput)?.ints,
                  steps.contains(where: { $0 > 1 }) else { continue }
            let axes = r.input(i, 3).flatMap { r.constant($0)?.ints }.map { $0.map { Int($0) < 0 ? Int($0) + s.count : Int($0) } }
                ?? Array(0..<starts.count)
            // Per axis: (step, start) for strided axes; others must be whole (a step-1 slice of all of it).
            var strided: [Int: (step: Int, start: Int)] = [:]
            var fits = true
            for (k, a) in axes.enumerated() {
                let step = Int(steps[k]), start = Int(starts[k])
                if step == 1, o[a] == s[a] { continue }
                guard step > 1, start >= 0, start < step, s[a] % step == 0, o[a] == s[a] / step else { fits = false; break }
                strided[a] = (step, start)
            }
            guard fits, let first = strided.keys.min() else { continue }
            let keepBatch = s[0] == 1 && first > 0
            var view: [Int] = keepBatch ? [1] : []
            var phaseAxes: [Int] = [], phaseStarts: [Int] = []
            let lead = s[(keepBatch ? 1 : 0)..<first].reduce(1, *)
            for a in first..<s.count {
                if let (step, start) = strided[a] {
                    view.append(a == first ? lead * (s[a] / step) : s[a] / step)
                    view.append(step)
                    phaseAxes.append(view.count - 1)
                    phaseStarts.append(start)
                } else {
                    view.append(s[a])
                }
            }
            let dtype = r.type(x).dtype
            var picked = view
            for a in phaseAxes { picked[a] = 1 }
            let v = r.addValue(n.name + "_view", TensorType(dtype, view))
            let p = r.addValue(n.name + "_phase", TensorType(dtype, picked))
            func c(_ t: [Int], _ label: String) -> ValueID { r.addConstant(n.name + label, .vector(t), kind: .constant) }
            r.replace(i, with: [
                Node(op: "Reshape", name: r.uniqueNodeName(n.name + "_reshape"), inputs: [x, c(view, "_view_shape")], outputs: [v]),
                Node(op: "Slice", name: r.uniqueNodeName(n.name + "_phase"),
                     inputs: [v, c(phaseStarts, "_starts"), c(phaseStarts.map { $0 + 1 }, "_ends"), c(phaseAxes, "_axes")], outputs: [p]),
                Node(op: "Reshape", name: r.uniqueNodeName(n.name + "_reshape_back"), inputs: [p, c(o, "_shape")], outputs: [out]),
            ])
            r.changes.append("\(n.name): phase \(phaseStarts) of a view")
        }
    }
}

extension Pass {
    public static let stridedSliceAsReshape = stridedSliceAsReshapePass
}
