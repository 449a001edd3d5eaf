// YOLOv5's vision transformer (models/common.py): TransformerLayer (nn.MultiheadAttention without
// LayerNorms), TransformerBlock (optional Conv, learnable position embedding, layers), and C3TR.

/// `TransformerBlock(c1, c2, num_heads, num_layers)` in the current scope:
///
///     x = conv(x) if c1 != c2;  p = x.flatten(2).permute(2, 0, 1)          (H*W, B, C)
///     tr(p + linear(p)).permute(1, 2, 0).reshape(B, C, H, W)
///
/// Tokens are kept batch-first, (B, H*W, C), which computes the same per-batch attention with fewer
/// transposes than PyTorch's sequence-first layout.
func lowerTransformerBlock(_ b: GraphBuilder, _ x: ValueID, c1: Int, c2: Int, heads: Int, layers: Int,
                           act: Activation) throws -> ValueID
{
    guard c2 % heads == 0 else {
        throw ShapeError(layer: b.currentScope, op: "TransformerBlock", message: "embed_dim \(c2) must be divisible by num_heads \(heads)")
    }
    let y = c1 != c2 ? try lowerConvSubmodule(b, "conv", x, c1, c2, act: act) : x
    let s = b.type(y).shape
    let (n, h, w) = (s[0], s[2], s[3])
    let p = try b.transpose(try b.reshape(y, [n, c2, h * w]), [0, 2, 1])
    var t = try b.op("Add", [p, try b.scoped("linear") { try lowerLinear(b, p, c2, c2) }])
    t = try b.scoped("tr") {
        var t = t
        for i in 0..<layers { t = try b.scoped(String(i)) { try lowerTransformerLayer(b, t, c2, heads: heads) } }
        return t
    }
    return try b.reshape(try b.transpose(t, [0, 2, 1]), [n, c2, h, w])
}

/// `TransformerLayer(c, num_heads)` on (B, L, C) tokens: `x = ma(q(x), k(x), v(x))[0] + x`, then
/// `x = fc2(fc1(x)) + x`; q, k, v, fc1 and fc2 are bias-free Linears.
func lowerTransformerLayer(_ b: GraphBuilder, _ x: ValueID, _ c: Int, heads: Int) throws -> ValueID {
    let q = try b.scoped("q") { try lowerLinear(b, x, c, c, bias: false) }
    let k = try b.scoped("k") { try lowerLinear(b, x, c, c, bias: false) }
    let v = try b.scoped("v") { try lowerLinear(b, x, c, c, bias: false) }
    let attended = try b.scoped("ma") { try lowerMultiheadAttention(b, q, k, v, c, heads: heads) }
    let x1 = try b.op("Add", [attended, x])
    let h = try b.scoped("fc1") { try lowerLinear(b, x1, c, c, bias: false) }
    let f = try b.scoped("fc2") { try lowerLinear(b, h, c, c, bias: false) }
    return try b.op("Add", [f, x1])
}

/// `nn.MultiheadAttention(c, heads)(query, key, value)[0]` on (B, L, C) inputs, as PyTorch's
/// multi_head_attention_forward computes it: the packed `in_proj_weight` / `in_proj_bias` split in
/// thirds for q, k and v; heads of c / heads channels; q scaled by 1 / sqrt(head_dim); softmax over
/// keys; heads merged; `out_proj`.
func lowerMultiheadAttention(_ b: GraphBuilder, _ query: ValueID, _ key: ValueID, _ value: ValueID, _ c: Int,
                             heads: Int) throws -> ValueID
{
    let shape = b.type(query).shape
    let (n, l) = (shape[0], shape[1])
    let hd = c / heads
    let bound = 1 / Float(c).squareRoot()
    let w = try b.parameter("in_proj_weight", shape: [3 * c, c], initializer: .uniform(bound: bound))
    let bias = try b.parameter("in_proj_bias", shape: [3 * c], initializer: .uniform(bound: bound))
    func project(_ x: ValueID, _ j: Int) throws -> ValueID {
        let wj = try b.op("Slice", [w, b.constant(ints: [j * c]), b.constant(ints: [(j + 1) * c]), b.constant(ints: [0])])
        let bj = try b.op("Slice", [bias, b.constant(ints: [j * c]), b.constant(ints: [(j + 1) * c]), b.constant(ints: [0])])
        let y = try b.op("MatMul", [x, try b.transpose(wj, [1, 0])])
        return try b.op("Add", [y, bj])
    }
    // (B, L, C) -> (B, heads, L, hd); k as (B, heads, hd, L) for the product.
    let q = try b.transpose(try b.reshape(try project(query, 0), [n, l, heads, hd]), [0, 2, 1, 3])
    let k = try b.transpose(try b.reshape(try project(key, 1), [n, l, heads, hd]), [0, 2, 3, 1])
    let v = try b.transpose(try b.reshape(try project(value, 2), [n, l, heads, hd]), [0, 2, 1, 3])
    let scores = try b.op("MatMul", [try b.scale(q, 1 / Float(hd).squareRoot()), k])
    let attention = try b.op("Softmax", [scores], ["axis": .int(-1)])
    let o = try b.op("MatMul", [attention, v])
    let merged = try b.reshape(try b.transpose(o, [0, 2, 1, 3]), [n, l, c])
    return try b.scoped("out_proj") { try lowerLinear(b, merged, c, c) }
}

/// `C3TR(c1, c2, n=1, shortcut=True, g=1, e=0.5)`: C3 with `m = TransformerBlock(c_, c_, 4, n)`: the
/// row's number is the count of transformer layers, with 4 heads.
public struct C3TRModule: C3Variant {
    public static let names = ["C3TR"]
    let a: CSPArguments
    let act: Activation

    init(_ a: CSPArguments, act: Activation, _ ctx: ModuleContext) throws {
        let c_ = Int(Double(a.c2) * a.e)
        guard c_ % 4 == 0 else { throw ctx.fail("its TransformerBlock has 4 heads, so the hidden channels c2 * e = \(c_) must be a multiple of 4") }
        (self.a, self.act) = (a, act)
    }

    func lowerM(_ b: GraphBuilder, _ t: ValueID, _ c_: Int) throws -> ValueID {
        try lowerTransformerBlock(b, t, c1: c_, c2: c_, heads: 4, layers: a.n, act: act)
    }
}
