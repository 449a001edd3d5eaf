/// The IR uses the newest form of each operator; older opsets spell a few differently. Export rewrites
/// to the target opset's form and import rewrites back, so a file round-trips unchanged.
///
/// - Split: sizes as an input from opset 13, as the `split` attribute before.
/// - Resize: `roi` optional from opset 13, a required (empty) input before.
/// - Squeeze / Unsqueeze: `axes` an input from opset 13, an attribute before.
/// - ReduceMean: `axes` an input from opset 18, an attribute before.
/// - LayerNormalization (opset 17) is written below 17 as the primitive ops that define it.
/// - HardSwish (opset 14) is written below 14 as x * HardSigmoid(x).
/// - Gelu (opset 20) is written below 20 as torch.onnx writes exact GELU: x * (Erf(x / sqrt 2) + 1) * 0.5.
enum OpsetLegalization {
    struct Spelling {
        var op: String
        var name: String
        var inputs: [String]
        var outputs: [String]
        var attributes: [String: Attribute]
        /// Initializers the spelling needs that the IR has no value for (Resize's empty roi).
        var extra: [(String, Tensor)] = []
        /// Such initializers that hold model numbers, so they follow the float16 option (LayerNorm's eps).
        var extraData: [(String, Tensor)] = []
    }

    /// The node as the target opset spells it: usually one node, HardSwish below opset 14 two.
    static func export(_ n: Node, opset: Int, graph g: Graph) throws -> [Spelling] {
        if n.op == "Softmax" && opset < 13, let x = n.inputs[0] {
            // Before 13 Softmax flattens to 2-D at `axis`: the same function only on the last axis.
            let rank = g.type(of: x).rank, axis = n.int("axis", default: -1)
            guard axis == -1 || axis == rank - 1 else {
                throw OnnxError(file: g.name, "node \(n.name): Softmax over axis \(axis) of a rank-\(rank) tensor cannot be written below opset 13; use opset 13 or later")
            }
        }
        var s = Spelling(op: n.op, name: n.name, inputs: n.inputs.map { $0.map(g.name(of:)) ?? "" },
                         outputs: n.outputs.map(g.name(of:)), attributes: n.attributes)
        if n.op == "Softmax" && opset < 13 && s.attributes["axis"] == nil {
            s.attributes["axis"] = .int(-1)  // the default was 1 before opset 13
        }
        if n.op == "HardSwish" && opset < 14 {
            // x * HardSigmoid(x, 1/6, 1/2): the definition of HardSwish in opset 14.
            let gate = n.name + "/HardSigmoid_output_0"
            return [
                Spelling(op: "HardSigmoid", name: n.name + "/HardSigmoid", inputs: s.inputs, outputs: [gate],
                         attributes: ["alpha": .float(1.0 / 6.0), "beta": .float(0.5)]),
                Spelling(op: "Mul", name: n.name, inputs: [s.inputs[0], gate], outputs: s.outputs, attributes: [:]),
            ]
        }
        if n.op == "Gelu" && opset < 20 {
            guard n.string("approximate", default: "none") == "none" else {
                throw OnnxError(file: g.name, "node \(n.name): tanh-approximate Gelu cannot be written below opset 20; use opset 20 or later")
            }
            return geluPrimitives(n, s)
        }
        if n.op == "LayerNormalization" && opset < 17, let x = n.inputs[0] {
            return layerNormPrimitives(n, s, rank: g.type(of: x).rank)
        }
        if n.op == "ReduceMean" && opset < 18, n.inputs.count > 1 {
            if let t = g.constant(n.inputs[1]) { s.attributes["axes"] = .ints(t.intValues) }
            s.inputs = [s.inputs[0]]
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

    /// LayerNormalization as opset 17 defines it, in ops every opset has: the mean and variance over
    /// the axes from `axis` on, then (x - mean) / sqrt(var + eps) * scale + bias.
    static func layerNormPrimitives(_ n: Node, _ s: Spelling, rank: Int) -> [Spelling] {
        var axis = n.int("axis", default: -1)
        if axis < 0 { axis += rank }
        let axes: Attribute = .ints(Array(axis..<rank))
        let p = n.name + "/"
        func out(_ op: String) -> String { p + op + "_output_0" }
        let eps = p + "epsilon"
        var steps: [Spelling] = [
            Spelling(op: "ReduceMean", name: p + "ReduceMean", inputs: [s.inputs[0]], outputs: [out("ReduceMean")],
                     attributes: ["axes": axes, "keepdims": .int(1)]),
            Spelling(op: "Sub", name: p + "Sub", inputs: [s.inputs[0], out("ReduceMean")], outputs: [out("Sub")], attributes: [:]),
            Spelling(op: "Mul", name: p + "Mul", inputs: [out("Sub"), out("Sub")], outputs: [out("Mul")], attributes: [:]),
            Spelling(op: "ReduceMean", name: p + "ReduceMean_1", inputs: [out("Mul")], outputs: [out("ReduceMean_1")],
                     attributes: ["axes": axes, "keepdims": .int(1)]),
            Spelling(op: "Add", name: p + "Add", inputs: [out("ReduceMean_1"), eps], outputs: [out("Add")], attributes: [:],
                     extraData: [(eps, .scalar(n.float("epsilon", default: 1e-5)))]),
            Spelling(op: "Sqrt", name: p + "Sqrt", inputs: [out("Add")], outputs: [out("Sqrt")], attributes: [:]),
        ]
        let hasBias = s.inputs.count > 2 && !s.inputs[2].isEmpty
        steps.append(Spelling(op: "Div", name: p + "Div", inputs: [out("Sub"), out("Sqrt")], outputs: [out("Div")], attributes: [:]))
        steps.append(Spelling(op: "Mul", name: hasBias ? p + "Mul_1" : n.name, inputs: [out("Div"), s.inputs[1]],
                              outputs: hasBias ? [out("Mul_1")] : s.outputs, attributes: [:]))
        if hasBias {
            steps.append(Spelling(op: "Add", name: n.name, inputs: [out("Mul_1"), s.inputs[2]], outputs: s.outputs, attributes: [:]))
        }
        return steps
    }

    /// Exact GELU in ops every opset has, as torch.onnx spells it: Div, Erf, Add, Mul, Mul.
    static func geluPrimitives(_ n: Node, _ s: Spelling) -> [Spelling] {
        let p = n.name + "/"
        func out(_ op: String) -> String { p + op + "_output_0" }
        let (sqrt2, one, half) = (p + "sqrt2", p + "one", p + "half")
        return [
            Spelling(op: "Div", name: p + "Div", inputs: [s.inputs[0], sqrt2], outputs: [out("Div")], attributes: [:],
                     extraData: [(sqrt2, .scalar(Float(2).squareRoot()))]),
            Spelling(op: "Erf", name: p + "Erf", inputs: [out("Div")], outputs: [out("Erf")], attributes: [:]),
            Spelling(op: "Add", name: p + "Add", inputs: [out("Erf"), one], outputs: [out("Add")], attributes: [:],
                     extraData: [(one, .scalar(1))]),
            Spelling(op: "Mul", name: p + "Mul", inputs: [s.inputs[0], out("Add")], outputs: [out("Mul")], attributes: [:]),
            Spelling(op: "Mul", name: n.name, inputs: [out("Mul"), half], outputs: s.outputs, attributes: [:],
                     extraData: [(half, .scalar(0.5))]),
        ]
    }

    /// Rewrites an imported node to the IR's form. `constant` makes a constant value from a tensor.
    static func canonicalize(_ n: inout Node, opset: Int, graph g: Graph, file: String, constant: (Tensor) -> ValueID) throws {
        guard !n.inputs.isEmpty else { return }
        switch n.op {
        case "Softmax" where opset < 13:
            let rank = n.inputs[0].map { g.type(of: $0).rank } ?? 0
            let axis = n.int("axis", default: 1)
            guard axis == -1 || axis == rank - 1 else {
                throw OnnxError(file: file, "node \(n.name): Softmax before opset 13 flattens the input at axis \(axis) of \(rank); only the last axis is supported")
            }
        case "Split":
            if case .ints(let sizes)? = n.attributes["split"] {
                n.attributes["split"] = nil
                n.inputs = [n.inputs[0], constant(.vector(sizes))]
            }
        case "Squeeze", "Unsqueeze", "ReduceMean":
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
