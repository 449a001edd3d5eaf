/// The IR uses the newest form of each operator; older opsets spell a few differently. Export rewrites
/// to the target opset's form and import rewrites back, so a file round-trips unchanged.
///
/// - Split: sizes as an input from opset 13, as the `split` attribute before.
/// - Resize: `roi` optional from opset 13, a required (empty) input before.
/// - Squeeze / Unsqueeze: `axes` an input from opset 13, an attribute before.
enum OpsetLegalization {
    struct Spelling {
        var op: String
        var name: String
        var inputs: [String]
        var outputs: [String]
        var attributes: [String: Attribute]
        /// Initializers the spelling needs that the IR has no value for (Resize's empty roi).
        var extra: [(String, Tensor)] = []
    }

    /// The node as the target opset spells it: usually one node, HardSwish below opset 14 two.
    static func export(_ n: Node, opset: Int, graph g: Graph) -> [Spelling] {
        var s = Spelling(op: n.op, name: n.name, inputs: n.inputs.map { $0.map(g.name(of:)) ?? "" },
                         outputs: n.outputs.map(g.name(of:)), attributes: n.attributes)
        if n.op == "HardSwish" && opset < 14 {
            // x * HardSigmoid(x, 1/6, 1/2): the definition of HardSwish in opset 14.
            let gate = n.name + "/HardSigmoid_output_0"
            return [
                Spelling(op: "HardSigmoid", name: n.name + "/HardSigmoid", inputs: s.inputs, outputs: [gate],
                         attributes: ["alpha": .float(1.0 / 6.0), "beta": .float(0.5)]),
                Spelling(op: "Mul", name: n.name, inputs: [s.inputs[0], gate], outputs: s.outputs, attributes: [:]),
            ]
        }
        guard opset < 13 else { return [s] }
        switch n.op {
        case "Split", "Squeeze", "Unsqueeze":
            if n.inputs.count > 1, let t = g.constant(n.inputs[1]) {
                s.attributes[n.op == "Split" ? "split" : "axes"] = .ints(t.intValues)
                s.inputs = [s.inputs[0]]
            }
        case "Resize":
            if n.inputs.count > 1, n.inputs[1] == nil {
                let roi = n.name + "/roi"
                s.inputs[1] = roi
                s.extra.append((roi, Tensor(shape: [0], floats: [])))
            }
        default: break
        }
        return [s]
    }

    /// Rewrites an imported node to the IR's form. `constant` makes a constant value from a tensor.
    static func canonicalize(_ n: inout Node, graph g: Graph, constant: (Tensor) -> ValueID) {
        guard !n.inputs.isEmpty else { return }
        switch n.op {
        case "Split":
            if case .ints(let sizes)? = n.attributes["split"] {
                n.attributes["split"] = nil
                n.inputs = [n.inputs[0], constant(.vector(sizes))]
            }
        case "Squeeze", "Unsqueeze":
            if case .ints(let axes)? = n.attributes["axes"] {
                n.attributes["axes"] = nil
                n.inputs = [n.inputs[0], constant(.vector(axes))]
            }
        case "Resize":
            // An empty roi or scales is the same as an absent one.
            for i in 1..<min(n.inputs.count, 3) where g.constant(n.inputs[i])?.count == 0 { n.inputs[i] = nil }
            while n.inputs.count > 1, n.inputs.last == .some(nil) { n.inputs.removeLast() }
        default: break
        }
    }
}
