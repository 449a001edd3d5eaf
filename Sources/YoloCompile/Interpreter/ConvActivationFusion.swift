/// Finds each float32 convolution whose only use is an activation, so the interpreter runs the two
/// as one kernel (`FusedActivation`): the activation is applied to each block of the convolution's
/// output as the block is computed, and neither the convolution's output nor the sigmoid's is ever
/// allocated. The graph is not changed; this is how the interpreter schedules it.
///
///     %c = Conv(%x, %w, %b)                  %y = Conv(%x, %w, %b) with SiLU
///     %s = Sigmoid(%c)                 ==>
///     %y = Mul(%c, %s)
///
/// The activations: Relu, LeakyRelu, Sigmoid, HardSwish, Clip with constant bounds, and x times
/// Sigmoid(x) or HardSigmoid(x) (Mul's operands in either order). Nothing fuses when an intermediate
/// value is a graph output or has another use, or when any type is not static float32 (float16
/// rounds after each operator, float64 has its own path).
struct ConvActivationFusion {
    struct Fusion: Equatable {
        var activation: FusedActivation
        /// The nodes the fused kernel stands in for (run as part of the convolution, skipped after).
        var covered: [Int]
        /// The value the fused kernel produces: the last covered node's output.
        var output: ValueID
    }

    /// Fusions by the convolution's node index.
    static func plan(_ g: Graph, attributes: [AttributeView]) -> [Int: Fusion] {
        var users: [ValueID: [Int]] = [:]
        for (i, n) in g.nodes.enumerated() { for v in n.inputs.compactMap({ $0 }) { users[v, default: []].append(i) } }
        let outputs = Set(g.outputs)
        func isFloat32(_ v: ValueID) -> Bool { let t = g.type(of: v); return t.dtype == .float32 && t.isStatic }
        /// The one node that reads `v` (once), when `v` is internal.
        func soleUser(_ v: ValueID) -> Int? {
            guard !outputs.contains(v), let u = users[v], u.count == 1 else { return nil }
            return u[0]
        }
        func scalar(_ v: ValueID??) -> Float?? {
            guard let v = v ?? nil else { return .some(nil) }  // absent: the default bound
            guard let c = g.constants[v]?.tensor, c.dtype == .float32, c.count == 1 else { return nil }
            return .some(c.floats[0])
        }
        var result: [Int: Fusion] = [:]
        for (i, conv) in g.nodes.enumerated() where conv.op == "Conv" && conv.outputs.count == 1 {
            let c = conv.outputs[0]
            guard isFloat32(c), g.nodes[i].inputs.allSatisfy({ $0.map(isFloat32) ?? true }), !outputs.contains(c),
                  let u = users[c] else { continue }
            let sameType = { (v: ValueID) in g.type(of: v) == g.type(of: c) }
            if u.count == 1 {
                let a = g.nodes[u[0]]
                guard a.outputs.count == 1, sameType(a.outputs[0]) else { continue }
                let act: FusedActivation
                switch a.op {
                case "Relu": act = .relu
                case "LeakyRelu": act = .leakyRelu(alpha: attributes[u[0]].float("alpha"))
                case "Sigmoid": act = .sigmoid
                case "HardSwish": act = .hardSwish
                case "Clip":
                    guard let lo = scalar(a.inputs.count > 1 ? a.inputs[1] : nil),
                          let hi = scalar(a.inputs.count > 2 ? a.inputs[2] : nil) else { continue }
                    act = .clip(lo: lo ?? -.greatestFiniteMagnitude, hi: hi ?? .greatestFiniteMagnitude)
                default: continue
                }
                result[i] = Fusion(activation: act, covered: [u[0]], output: a.outputs[0])
            } else if u.count == 2 {
                // x * gate(x): the gate reads only c, and the Mul reads c and the gate's output.
                let (p, q) = (g.nodes[u[0]], g.nodes[u[1]])
                let (gi, mi) = p.op == "Mul" ? (u[1], u[0]) : (u[0], u[1])
                let (gate, mul) = p.op == "Mul" ? (q, p) : (p, q)
                guard mul.op == "Mul", mi > gi, gate.outputs.count == 1, mul.outputs.count == 1,
                      soleUser(gate.outputs[0]) == mi, Set(mul.inputs.compactMap { $0 }) == [c, gate.outputs[0]],
                      mul.inputs.count == 2, sameType(gate.outputs[0]), sameType(mul.outputs[0]) else { continue }
                let act: FusedActivation
                switch gate.op {
                case "Sigmoid": act = .silu
                case "HardSigmoid": act = .hardSigmoidMul(alpha: attributes[gi].float("alpha"), beta: attributes[gi].float("beta"))
                default: continue
                }
                result[i] = Fusion(activation: act, covered: [gi, mi], output: mul.outputs[0])
            }
        }
        return result
    }
}
