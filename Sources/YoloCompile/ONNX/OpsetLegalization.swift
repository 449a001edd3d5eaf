/// The IR uses the newest form of each operator; older opsets spell a few differently. Export rewrites
/// to the target opset's form and import rewrites back, so a file round-trips unchanged.
///
/// - Split: sizes as an input from opset 13, as the `split` attribute before.
/// - Resize: `roi` optional from opset 13, a required (empty) input before.
/// - Squeeze / Unsqueeze: `axes` an input from opset 13, an attribute before.
enum OpsetLegalization {
    struct Spelling {
        var inputs: [String]
        var outputs: [String]
        var attributes: [String: Attribute]
        /// Initializers the spelling needs that the IR has no value for (Resize's empty roi).
        var extra: [(String, Tensor)] = []
    }

    static func export(_ n: Node, opset: Int, graph g: Graph) -> Spelling {
        var s = Spelling(inputs: n.inputs.map { $0.map(g.name(of:)) ?? "" }, outputs: n.outputs.map(g.name(of:)),
                         attributes: n.attributes)
        guard opset < 13 else { return s }
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
        return s
    }

    /// Rewrites an imported node to the IR's form. `constant` makes a constant value from a tensor.
    static func canonicalize(_ n: inout Node, graph g: Graph, constant: (Tensor) -> ValueID) {
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
