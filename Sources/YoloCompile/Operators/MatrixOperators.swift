// Matrix products: MatMul (numpy matmul), Gemm, Einsum.

extension Operators {
    static let matrix: [OperatorSchema] = [
        with(OperatorSchema("MatMul", versions: [1, 9, 13], inputs: [.input("A", "T"), .input("B", "T")], outputs: [.output("Y", "T")],
                            types: ["T": [.floats, TypeSet([.int32, .int64, .uint32, .uint64])]], infer: matMulRule, kernel: Kernels.matMul)) {
            $0.flops = { q in
                // A MatMul by a fixed matrix is an nn.Linear, which thop counts; nn.MultiheadAttention (C3TR's
                // `ma`) has no thop rule, and attention's activation-by-activation products are torch.matmul
                // calls thop does not see.
                guard q.inputIsFixed.count > 1, q.inputIsFixed[1], !q.node.name.contains("/ma/"),
                      let w = q.inputTypes[1]?.staticShape else { return 0 }
                return 2 * Double(q.outputTypes[0].count) * Double(w.dropLast().last ?? 1)
            }
            $0.multiplyAdds = { inputs, outputs, _ in Double(outputs[0].count) * Double(inputs[0].shape.last ?? 1) }
        },
        with(OperatorSchema("Gemm", versions: [1, 6, 7, 9, 11, 13],
                            attributes: [.float("alpha", 1), .float("beta", 1), .int("transA", 0), .int("transB", 0)],
                            inputs: [.input("A", "T"), .input("B", "T"), .input("C", "T", .optional)], outputs: [.output("Y", "T")],
                            types: ["T": .floats], infer: gemmRule, kernel: Kernels.gemm)) {
            $0.flops = { q in
                guard q.inputIsFixed.count > 1, q.inputIsFixed[1], let w = q.inputTypes[1]?.staticShape, w.count == 2 else { return 0 }
                return 2 * Double(q.outputTypes[0].count) * Double(w[q.attributes.int("transB") != 0 ? 1 : 0])
            }
            $0.multiplyAdds = { inputs, outputs, a in
                let k = inputs[0].shape.count == 2 ? inputs[0].shape[a.int("transA") != 0 ? 0 : 1] : 1
                return Double(outputs[0].count) * Double(k)
            }
        },
        with(OperatorSchema("Einsum", versions: [12], attributes: [.init(name: "equation", kind: .string, defaultValue: nil, required: true)],
                       inputs: [.input("Inputs", "T", .variadic(min: 1))], outputs: [.output("Output", "T")],
                       types: ["T": .numeric], infer: einsumRule, kernel: Kernels.einsum)) {
            // Every output element sums over the summed letters' sizes.
            $0.multiplyAdds = { inputs, outputs, a in
                guard let e = try? EinsumEquation(a.string("equation"), shapes: inputs.map(\.shape), fail: { ShapeError(layer: "", op: "Einsum", message: $0) })
                else { return .infinity }
                return Double(outputs[0].count) * e.summed.map { Double(e.sizes[$0] ?? 1) }.reduce(1, *)
            }
        },
    ]

    /// numpy matmul: 1-D operands are promoted (and the added axis removed after); the last two axes
    /// multiply, the leading ones broadcast.
    static func matMulRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let a = try ctx.shape(0), b = try ctx.shape(1)
        guard a.count >= 1, b.count >= 1 else { throw ctx.fail("MatMul of a scalar: \(try ctx.type(0)) and \(try ctx.type(1))") }
        let a2 = a.count == 1 ? [1] + a : a, b2 = b.count == 1 ? b + [1] : b
        let (m, k) = (a2[a2.count - 2], a2[a2.count - 1])
        let (k2, n) = (b2[b2.count - 2], b2[b2.count - 1])
        guard k == k2 else { throw ctx.fail("cannot multiply \(try ctx.type(0)) by \(try ctx.type(1)): inner sizes \(k) and \(k2) differ") }
        guard let batch = ShapeRules.broadcast(Array(a2.dropLast(2)), Array(b2.dropLast(2))) else {
            throw ctx.fail("cannot broadcast the batch axes of \(try ctx.type(0)) and \(try ctx.type(1))")
        }
        var out = batch
        if a.count > 1 { out.append(m) }
        if b.count > 1 { out.append(n) }
        return [try ctx.output(0, out)]
    }

    /// Y = alpha * A' * B' + beta * C, A' and B' transposed by `transA` / `transB`; C broadcasts to Y.
    static func gemmRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let a = try ctx.shape(0), b = try ctx.shape(1)
        guard a.count == 2, b.count == 2 else { throw ctx.fail("expected 2-D A and B, got \(try ctx.type(0)) and \(try ctx.type(1))") }
        let ta = ctx.attributes.int("transA") != 0, tb = ctx.attributes.int("transB") != 0
        let (m, k) = ta ? (a[1], a[0]) : (a[0], a[1])
        let (k2, n) = tb ? (b[1], b[0]) : (b[0], b[1])
        guard k == k2 else {
            throw ctx.fail("cannot multiply \(try ctx.type(0)) by \(try ctx.type(1)) (transA \(ta ? 1 : 0), transB \(tb ? 1 : 0)): inner sizes \(k) and \(k2) differ")
        }
        if ctx.has(2) {
            let c = try ctx.shape(2)
            guard c.count <= 2, ShapeRules.broadcast([m, n], c) == [m, n] else { throw ctx.fail("C \(try ctx.type(2)) does not broadcast to [\(m), \(n)]") }
        }
        return [try ctx.output(0, [m, n])]
    }

    static func einsumRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let shapes = try ctx.inputTypes.indices.map { try ctx.shape($0) }
        let e = try EinsumEquation(ctx.attributes.string("equation"), shapes: shapes, fail: ctx.fail)
        return [try ctx.output(0, e.outputShape)]
    }
}

/// An einsum equation resolved against its operands' shapes: a letter per axis (an ellipsis expanded
/// to letters of its own), the size of each letter, and the output's letters (implicit form:
/// the letters used once, in alphabetical order, after the ellipsis axes).
public struct EinsumEquation: Sendable {
    public var operands: [[Character]]
    public var output: [Character]
    public var sizes: [Character: Int]

    public var outputShape: [Int] { output.map { sizes[$0] ?? 1 } }
    /// Letters summed over: in some operand, not in the output.
    public var summed: [Character] {
        var seen: [Character] = []
        for o in operands { for c in o where !output.contains(c) && !seen.contains(c) { seen.append(c) } }
        return seen
    }

    public init(_ equation: String, shapes: [[Int]], fail: (String) -> any Error) throws {
        let text = equation.filter { !$0.isWhitespace }
        let sides = text.components(separatedBy: "->")
        guard sides.count <= 2 else { throw fail("equation '\(equation)' has more than one '->'") }
        let terms = sides[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard terms.count == shapes.count else { throw fail("equation '\(equation)' names \(terms.count) operands, the node has \(shapes.count)") }
        // Ellipsis axes get letters no equation uses (uppercase Greek), the same for every operand.
        let ellipsisLetters: [Character] = (0..<16).map { Character(UnicodeScalar(0x391 + $0)!) }
        var ellipsisRank = 0
        var operands: [[Character]] = []
        var sizes: [Character: Int] = [:]
        for (term, shape) in zip(terms, shapes) {
            var letters: [Character] = []
            let parts = term.components(separatedBy: "...")
            guard parts.count <= 2 else { throw fail("term '\(term)' of '\(equation)' has more than one ellipsis") }
            for c in parts.joined() where !c.isLetter {
                throw fail("term '\(term)' of '\(equation)' has '\(c)', expected letters")
            }
            if parts.count == 2 {
                let explicit = parts[0].count + parts[1].count
                let r = shape.count - explicit
                guard r >= 0, r <= ellipsisLetters.count else { throw fail("term '\(term)' does not match an operand of rank \(shape.count)") }
                ellipsisRank = max(ellipsisRank, r)
                letters = Array(parts[0]) + Array(ellipsisLetters[(ellipsisLetters.count - r)...].prefix(r)) + Array(parts[1])
            } else {
                letters = Array(term)
            }
            guard letters.count == shape.count else {
                throw fail("term '\(term)' of '\(equation)' has \(letters.count) axes, the operand \(shape)")
            }
            for (c, d) in zip(letters, shape) {
                if let s = sizes[c], s != d {
                    // Ellipsis axes broadcast; named letters must agree.
                    if ellipsisLetters.contains(c) && (s == 1 || d == 1) { sizes[c] = s == 1 ? d : s; continue }
                    throw fail("letter '\(c)' of '\(equation)' is \(s) in one operand and \(d) in another")
                }
                sizes[c] = d
            }
            operands.append(letters)
        }
        let ellipsis = Array(ellipsisLetters[(ellipsisLetters.count - ellipsisRank)...])
        var output: [Character]
        if sides.count == 2 {
            let parts = sides[1].components(separatedBy: "...")
            guard parts.count <= 2 else { throw fail("the output of '\(equation)' has more than one ellipsis") }
            output = parts.count == 2 ? Array(parts[0]) + ellipsis + Array(parts[1]) : Array(sides[1])
            for c in output where sizes[c] == nil { throw fail("output letter '\(c)' of '\(equation)' is in no operand") }
            guard Set(output).count == output.count else { throw fail("the output of '\(equation)' repeats a letter") }
        } else {
            var counts: [Character: Int] = [:]
            for o in operands { for c in o where !ellipsis.contains(c) { counts[c, default: 0] += 1 } }
            output = ellipsis + counts.filter { $0.value == 1 }.keys.sorted()
        }
        self.operands = operands
        self.output = output
        self.sizes = sizes
    }
}
