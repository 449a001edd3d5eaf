/// Writes HardSwish by its definition, for runtimes without it (libonnx):
///
///     %y = HardSwish(%x)    ->    %y = Mul(%x, HardSigmoid(%x, alpha=1/6, beta=0.5))
///
/// ONNX defines HardSwish as exactly this product; only the order of float operations inside a
/// runtime's kernel may differ (rounding).
public let hardSwishAsHardSigmoidPass = Pass(name: "hardswish-as-hardsigmoid") { g in
    g.rewrite { r in
        for i in r.indices where r.node(i).op == "HardSwish" {
            let n = r.node(i)
            guard let x = r.input(i, 0) else { continue }
            let gate = r.addValue(n.name + "_gate", r.type(x))
            r.replace(i, with: [
                Node(op: "HardSigmoid", name: r.uniqueNodeName(n.name + "_gate"), inputs: [x], outputs: [gate],
                     attributes: ["alpha": .float(Float(1.0 / 6.0)), "beta": .float(0.5)]),
                Node(op: "Mul", name: r.uniqueNodeName(n.name + "_mul"), inputs: [x, gate], outputs: n.outputs),
            ])
            r.changes.append("\(n.name): HardSigmoid, Mul")
        }
    }
}

extension Pass {
    public static let hardSwishAsHardSigmoid = hardSwishAsHardSigmoidPass
}
