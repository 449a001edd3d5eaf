// Ultralytics' position-sensitive attention (ultralytics/nn/modules/block.py): Attention, PSABlock, C2PSA
// (YOLO11's last backbone stage).

/// `Attention(dim, num_heads=8, attn_ratio=0.5)` in the current scope: qkv a 1x1 Conv (no act) to
/// dim + 2 * key_dim * heads; per head q, k (key_dim rows) and v (head_dim rows) over the N = H * W
/// positions; softmax(q^T k * key_dim^-0.5); (v attn^T) plus pe, a depthwise 3x3 Conv of v; then proj.
func lowerAttention(_ b: GraphBuilder, _ x: ValueID, dim: Int, heads: Int, attnRatio: Double) throws -> ValueID {
    let shape = b.type(x).shape
    guard heads >= 1, dim % heads == 0 else {
        throw ShapeError(layer: b.currentScope, op: "Attention", message: "\(dim) channels do not divide into \(heads) heads")
    }
    let headDim = dim / heads, keyDim = Int(Double(headDim) * attnRatio)
    guard keyDim >= 1 else { throw ShapeError(layer: b.currentScope, op: "Attention", message: "key_dim int(\(headDim) * \(attnRatio)) is 0") }
    let (n, h, w) = (shape[0], shape[2], shape[3])
    let qkv = try lowerConvSubmodule(b, "qkv", x, dim, dim + 2 * keyDim * heads, act: .identity)
    let perHead = try b.reshape(qkv, [n, heads, 2 * keyDim + headDim, h * w])
    let parts = try b.add("Split", [perHead, b.constant(ints: [keyDim, keyDim, headDim])], ["axis": .int(2)], outputs: 3)
    let (q, k, v) = (parts[0], parts[1], parts[2])
    let scores = try b.op("MatMul", [try b.transpose(q, [0, 1, 3, 2]), k])
    let scaled = try b.op("Mul", [scores, b.constant(scalar: Float(1 / Double(keyDim).squareRoot()))])
    let attn = try b.op("Softmax", [scaled], ["axis": .int(-1)])
    let mixed = try b.reshape(try b.op("MatMul", [v, try b.transpose(attn, [0, 1, 3, 2])]), [n, dim, h, w])
    let pe = try lowerConvSubmodule(b, "pe", try b.reshape(v, [n, dim, h, w]), dim, dim, k: 3, s: 1, g: dim, act: .identity)
    return try lowerConvSubmodule(b, "proj", try b.op("Add", [mixed, pe]), dim, dim, act: .identity)
}

/// `PSABlock(c, attn_ratio=0.5, num_heads=4, shortcut=True)`: x + attn(x), then x + ffn(x), ffn being
/// Conv(c, 2c, 1) and Conv(2c, c, 1, act=False) in an nn.Sequential.
func lowerPSABlock(_ b: GraphBuilder, _ x: ValueID, c: Int, attnRatio: Double, heads: Int, shortcut: Bool,
                   act: Activation) throws -> ValueID
{
    let a = try b.scoped("attn") { try lowerAttention(b, x, dim: c, heads: heads, attnRatio: attnRatio) }
    let y = shortcut ? try b.op("Add", [x, a]) : a
    let f = try b.scoped("ffn") {
        let t = try lowerConvSubmodule(b, "0", y, c, 2 * c, act: act)
        return try lowerConvSubmodule(b, "1", t, 2 * c, c, act: .identity)
    }
    return shortcut ? try b.op("Add", [y, f]) : f
}

/// `C2PSA(c1, c2, n=1, e=0.5)`: cv1 to 2c, split; n PSABlocks(c, 0.5, max(c // 64, 1) heads) on the second half;
/// cv2(cat(a, m(b))). c1 must equal c2 (it asserts so).
public struct C2PSAModule: YoloModule {
    public static let names = ["C2PSA"]
    public static let arguments = ["c2", "e"]
    public static let requiredArguments = 1
    let c1, c2, n: Int
    let e: Double
    let act: Activation
    let given: Int

    public init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        n = ctx.depth
        ctx.repeats = 1
        e = try ctx.double(1, "e", default: 0.5)
        given = ctx.args.count
        guard c1 == c2 else { throw ctx.fail("input channels \(c1) must equal output channels \(c2) (C2PSA asserts c1 == c2)") }
        guard Int(Double(c1) * e) >= 1 else { throw ctx.fail("expansion e = \(e) gives no hidden channels") }
        act = ctx.defaultActivation
    }

    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] { [.int(c1), .int(c2), .int(n)] + (given > 1 ? [.float(e)] : []) }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let c = Int(Double(c1) * e)
        let t = try lowerConvSubmodule(b, "cv1", inputs[0], c1, 2 * c, act: act)
        let halves = try b.add("Split", [t, b.constant(ints: [c, c])], ["axis": .int(1)], outputs: 2)
        var y = halves[1]
        for i in 0..<n {
            y = try b.scoped("m") { try b.scoped(String(i)) { try lowerPSABlock(b, y, c: c, attnRatio: 0.5, heads: max(c / 64, 1), shortcut: true, act: act) } }
        }
        let cat = try b.op("Concat", [halves[0], y], ["axis": .int(1)])
        return try lowerConvSubmodule(b, "cv2", cat, 2 * c, c1, act: act)
    }
}
