/// Finds each float32 Conv whose only use is an activation, and each MatMul followed by its bias Add
/// and a GELU, so the interpreter runs them as one kernel (`FusedActivation`): the activation (and a
/// MatMul's bias) is applied in the kernel's output pass, and the intermediate tensors are never
/// allocated. The graph is not changed; this is how the interpreter schedules it.
///
///     %c = Conv(%x, %w, %b)                  %y = Conv(%x, %w, %b) with SiLU
///     %s = Sigmoid(%c)                 ==>
///     %y = Mul(%c, %s)
///
/// A Linear layer as torch.onnx writes it, with ConvNeXt's GELU:
///
///     %m = MatMul(%x, %w)                    %y = MatMul(%x, %w) with bias %b and GELU
///     %a = Add(%m, %b)            # %b constant, [N]
///     %d = Div(%a, %sqrt2)        ==>
///     %e = Erf(%d)
///     %p = Add(%e, %one)
///     %q = Mul(%a, %p)
///     %y = Mul(%q, %half)         # %sqrt2, %one, %half constant scalars (any values: the kernel uses them)
///
/// Attention as torch.onnx writes it, every intermediate used once:
///
///     %s = MatMul(%q, %k)                    %o = attention(%q, %k, %v): for each block of query rows,
///     %p = Softmax(%s, axis = -1)      ==>   the scores, their softmax and the product with %v, in cache
///     %o = MatMul(%p, %v)                    (`Kernels.attention`; the scores never exist whole)
///
/// Conv's activations: Relu, LeakyRelu, Sigmoid, HardSwish, Clip with constant bounds, and x times
/// Sigmoid(x) or HardSigmoid(x) (Mul's operands in either order). Nothing fuses when an intermediate
/// value is a graph output or has another use, or when any type is not static float32 (float16
/// rounds after each operator, float64 has its own path).
struct OutputPassFusion {
    struct Fusion: Equatable {
        var activation: FusedActivation
        /// The nodes the fused kernel stands in for (run as part of the convolution, skipped after).
        var covered: [Int]
        /// The value the fused kernel produces: the last covered node's output.
        var output: ValueID
        /// A MatMul's bias (a constant vector along the output's last axis), handed to the kernel as input 2.
        var rowBias: ValueID? = nil
        /// Attention's values: the second MatMul's other operand, handed to `Kernels.attention` as input 2.
        var attentionValues: ValueID? = nil

        /// How profiles name the kernel: "Conv+SiLU", "MatMul+Add+GELU", "MatMul+Softmax+MatMul".
        func label(_ op: String) -> String {
            if attentionValues != nil { return "MatMul+Softmax+MatMul" }
            return [op, rowBias == nil ? nil : "Add", activation == .identity ? nil : activation.name].compactMap { $0 }.joined(separator: "+")
        }

        /// The value handed to the kernel as input 2, if any.
        var extraInput: ValueID? { rowBias ?? attentionValues }
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
        var producer: [ValueID: Int] = [:]
        for (i, n) in g.nodes.enumerated() { for v in n.outputs { producer[v] = i } }
        // Attention: MatMul(q, k) -> Softmax over the last axis -> MatMul(., v), v computed before the first MatMul.
        for (i, mm) in g.nodes.enumerated() where mm.op == "MatMul" && mm.outputs.count == 1 && mm.inputs.count == 2 {
            let scores = mm.outputs[0]
            guard isFloat32(scores), mm.inputs.allSatisfy({ $0.map { isFloat32($0) && g.type(of: $0).rank >= 2 } ?? false }),
                  let si = soleUser(scores), g.nodes[si].op == "Softmax", g.nodes[si].inputs.count == 1,
                  attributes[si].int("axis") == -1 || attributes[si].int("axis") == g.type(of: scores).rank - 1,
                  let probabilities = g.nodes[si].outputs.first, g.type(of: probabilities) == g.type(of: scores),
                  let oi = soleUser(probabilities), g.nodes[oi].op == "MatMul", g.nodes[oi].inputs.count == 2,
                  g.nodes[oi].inputs[0] == probabilities, let v = g.nodes[oi].inputs[1], v != probabilities, isFloat32(v),
                  g.type(of: v).rank >= 2, isFloat32(g.nodes[oi].outputs[0]), producer[v].map({ $0 < i }) ?? true
            else { continue }
            result[i] = Fusion(activation: .identity, covered: [si, oi], output: g.nodes[oi].outputs[0], attentionValues: v)
        }
        for (i, mm) in g.nodes.enumerated() where mm.op == "MatMul" && mm.outputs.count == 1 && result[i] == nil {
            let c = mm.outputs[0]
            guard isFloat32(c), let n = g.type(of: c).staticShape?.last, !outputs.contains(c) else { continue }
            var fusion = Fusion(activation: .identity, covered: [], output: c)
            // The bias: Add(c, b) or Add(b, c), b a float32 constant of shape [N].
            if let u = soleUser(c), g.nodes[u].op == "Add", g.nodes[u].inputs.count == 2, g.type(of: g.nodes[u].outputs[0]) == g.type(of: c),
               let b = g.nodes[u].inputs.first(where: { $0 != c }) ?? nil, g.nodes[u].inputs.contains(c),
               let t = g.constants[b]?.tensor, t.dtype == .float32, t.shape == [n] {
                fusion = Fusion(activation: .identity, covered: [u], output: g.nodes[u].outputs[0], rowBias: b)
            }
            if let gelu = geluChain(from: fusion.output) {
                fusion.activation = gelu.activation
                fusion.covered += gelu.covered
                fusion.output = gelu.output
            }
            if !fusion.covered.isEmpty { result[i] = fusion }
        }
        /// Div(x, d) -> Erf -> Add(one) -> Mul(x, .) -> Mul(half), every intermediate used once.
        func geluChain(from x: ValueID) -> (activation: FusedActivation, covered: [Int], output: ValueID)? {
            guard !outputs.contains(x), let u = users[x], u.count == 2 else { return nil }
            let (di, mi) = g.nodes[u[0]].op == "Div" ? (u[0], u[1]) : (u[1], u[0])
            let (div, mul) = (g.nodes[di], g.nodes[mi])
            guard div.op == "Div", div.inputs.count == 2, div.inputs[0] == x, let d = scalar(div.inputs[1]) ?? nil,
                  let ei = soleUser(div.outputs[0]), g.nodes[ei].op == "Erf",
                  let ai = soleUser(g.nodes[ei].outputs[0]), g.nodes[ai].op == "Add", g.nodes[ai].inputs.count == 2,
                  let oneValue = g.nodes[ai].inputs.first(where: { $0 != g.nodes[ei].outputs[0] }) ?? nil,
                  g.nodes[ai].inputs.contains(g.nodes[ei].outputs[0]), let one = scalar(oneValue) ?? nil,
                  soleUser(g.nodes[ai].outputs[0]) == mi, mul.op == "Mul", mul.inputs.count == 2,
                  Set(mul.inputs.compactMap { $0 }) == [x, g.nodes[ai].outputs[0]],
                  let hi = soleUser(mul.outputs[0]), g.nodes[hi].op == "Mul", g.nodes[hi].inputs.count == 2,
                  let halfValue = g.nodes[hi].inputs.first(where: { $0 != mul.outputs[0] }) ?? nil,
                  g.nodes[hi].inputs.contains(mul.outputs[0]), let half = scalar(halfValue) ?? nil,
                  [di, ei, ai, mi, hi].allSatisfy({ g.type(of: g.nodes[$0].outputs[0]) == g.type(of: x) })
            else { return nil }
            return (.gelu(divisor: d, one: one, half: half), [di, ei, ai, mi, hi], g.nodes[hi].outputs[0])
        }
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
