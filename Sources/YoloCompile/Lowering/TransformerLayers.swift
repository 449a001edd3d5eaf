// The layers transformer blocks are made of: nn.Linear, nn.LayerNorm, the token reshapes, and
// scaled dot-product attention.

/// `nn.Linear(cin, cout, bias)` on the last axis: MatMul by the transposed weight (constant folding
/// turns the Transpose of the parameter into a constant), then the bias.
func lowerLinear(_ b: GraphBuilder, _ x: ValueID, _ cin: Int, _ cout: Int, bias: Bool = true) throws -> ValueID {
    let bound = 1 / Float(cin).squareRoot()
    let w = try b.parameter("weight", shape: [cout, cin], initializer: .uniform(bound: bound))
    let y = try b.op("MatMul", [x, try b.op("Transpose", [w], ["perm": .ints([1, 0])])])
    guard bias else { return y }
    return try b.op("Add", [y, try b.parameter("bias", shape: [cout], initializer: .uniform(bound: bound))])
}

/// `nn.Linear(cin, cout, bias)` on a (batch, cin) input: one Gemm with transB, as PyTorch exports it,
/// reading the weight in its state_dict layout.
func lowerLinear2D(_ b: GraphBuilder, _ x: ValueID, _ cin: Int, _ cout: Int, bias: Bool = true) throws -> ValueID {
    let bound = 1 / Float(cin).squareRoot()
    let w = try b.parameter("weight", shape: [cout, cin], initializer: .uniform(bound: bound))
    let bv = bias ? try b.parameter("bias", shape: [cout], initializer: .uniform(bound: bound)) : nil
    return try b.op("Gemm", [x, w, bv], ["alpha": .float(1), "beta": .float(1), "transB": .int(1)])
}

/// `nn.LayerNorm(c, eps)` over the last axis: one LayerNormalization node (written as primitive
/// ops below opset 17). Seeded weights stay away from identity so that they matter.
func lowerLayerNorm(_ b: GraphBuilder, _ x: ValueID, _ c: Int, eps: Float = 1e-5) throws -> ValueID {
    let w = try b.parameter("weight", shape: [c], initializer: .range(0.5, 1.5))
    let bias = try b.parameter("bias", shape: [c], initializer: .range(-0.25, 0.25))
    return try b.op("LayerNormalization", [x, w, bias], ["axis": .int(-1), "epsilon": .float(eps)])
}

extension GraphBuilder {
    /// `x * s`. When s is a power of two the product is exact, which lets attention apply its scale
    /// to q before the product instead of to the (much larger) product: the same numbers, less work.
    func scale(_ x: ValueID, _ s: Float) throws -> ValueID {
        try op("Mul", [x, constant(scalar: s)])
    }
}

/// Whether scaling by `s` is exact in float arithmetic (a power of two).
func isPowerOfTwo(_ s: Float) -> Bool { s > 0 && s.significandBitPattern == 0 }
