// MobileViT's blocks as seed 000's config uses them: MV2Block (MobileNetV2's inverted residual) and
// MobileViTAttention (local convs, a transformer over unfolded patches, fusion). The seed gives no
// code; structure and names follow the widely copied implementation it was taken from, with the
// stride honoured as the MobileViT paper (and the seed's map sizes) have it.

/// `MV2Block(inp, out, stride=1, expansion=4)`, args `[out, stride, expansion]` with the input
/// channels inserted as for Conv: 1x1 expand + BN + SiLU (skipped at expansion 1), 3x3 depthwise with
/// the stride + BN + SiLU, 1x1 projection + BN; residual when stride is 1 and inp == out.
public struct MV2BlockModule: YoloModule {
    public static let names = ["MV2Block"]
    public static let arguments = ["out", "stride", "expansion"]
    public static let requiredArguments = 1
    let c1, c2, stride, expansion: Int

    public init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        stride = try ctx.int(1, "stride", default: 1)
        expansion = try ctx.int(2, "expansion", default: 4)
        guard stride >= 1, expansion >= 1 else { throw ctx.fail("stride and expansion must be positive, got \(stride) and \(expansion)") }
    }

    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] { [.int(c1), .int(c2), .int(stride), .int(expansion)] }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let x = inputs[0]
        let hidden = c1 * expansion
        let y = try b.scoped("conv") {
            // nn.Sequential positions: conv.0 conv, .1 BN, .2 SiLU, ... as the reference builds them.
            var i = 0
            var y = x
            func convBN(_ cin: Int, _ cout: Int, k: Int, s: Int, g: Int, act: Bool) throws {
                y = try b.scoped(String(i)) { try lowerConv2d(b, y, c1: cin, c2: cout, k: k, s: s, p: k / 2, g: g, bias: false) }
                y = try b.scoped(String(i + 1)) { try lowerBatchNorm2d(b, y, c: cout) }
                if act { y = try Activation.silu.lower(b, y) }
                i += act ? 3 : 2
            }
            if expansion != 1 { try convBN(c1, hidden, k: 1, s: 1, g: 1, act: true) }
            try convBN(hidden, hidden, k: 3, s: stride, g: hidden, act: true)
            try convBN(hidden, c2, k: 1, s: 1, g: 1, act: false)
            return y
        }
        return stride == 1 && c1 == c2 ? try b.op("Add", [x, y]) : y
    }
}

/// `MobileViTAttention(in_channel, dim, depth, kernel_size, patch_size, mlp_dim)` (the seed's argument
/// order): `conv1` kxk and `conv2` 1x1 to dim, unfold into patch_size^2 groups of tokens, `trans`
/// (depth pre-LayerNorm layers of 8-head attention and a SiLU MLP), fold, `conv3` back to in_channel,
/// concatenate with the input, `conv4` kxk. Output channels are the input's (parse_model's default).
public struct MobileViTAttentionModule: YoloModule {
    public static let names = ["MobileViTAttention"]
    public static let arguments = ["in_channel", "dim", "depth", "kernel_size", "patch_size", "mlp_dim"]
    public static let requiredArguments = 6
    static let heads = 8, headDim = 64
    let c, dim, depth, k, patch, mlpDim: Int

    public init(_ ctx: inout ModuleContext) throws {
        c = try ctx.int(0, "in_channel")
        dim = try ctx.int(1, "dim")
        depth = try ctx.int(2, "depth")
        k = try ctx.int(3, "kernel_size")
        patch = try ctx.int(4, "patch_size")
        mlpDim = try ctx.int(5, "mlp_dim")
        guard [c, dim, depth, k, patch, mlpDim].allSatisfy({ $0 >= 1 }) else { throw ctx.fail("arguments must be positive, got \(ctx.args)") }
        guard ctx.inputChannels.count == 1, c == ctx.c1 else {
            throw ctx.fail("in_channel is \(c) but its input has \(ctx.inputChannels.map(String.init).joined(separator: ", ")) channels")
        }
    }

    public var outputChannels: Int { c }
    public var constructorArguments: [ArgValue] { [c, dim, depth, k, patch, mlpDim].map { .int($0) } }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let x = inputs[0]
        let s = b.type(x).shape
        let (n, h, w) = (s[0], s[2], s[3])
        var y = try b.scoped("conv1") { try lowerConv2d(b, x, c1: c, c2: c, k: k, p: k / 2, bias: true) }
        y = try b.scoped("conv2") { try lowerConv2d(b, y, c1: c, c2: dim, k: 1, bias: true) }
        if requirePatches(b, height: h, width: w) {
            let (nh, nw) = (h / patch, w / patch)
            // 'bs dim (nh ph) (nw pw) -> bs (ph pw) (nh nw) dim'
            y = try b.reshape(y, [n, dim, nh, patch, nw, patch])
            y = try b.transpose(y, [0, 3, 5, 2, 4, 1])
            y = try b.reshape(y, [n, patch * patch, nh * nw, dim])
            y = try b.scoped("trans") { try lowerTransformer(b, y) }
            // 'bs (ph pw) (nh nw) dim -> bs dim (nh ph) (nw pw)'
            y = try b.reshape(y, [n, patch, patch, nh, nw, dim])
            y = try b.transpose(y, [0, 5, 3, 1, 4, 2])
            y = try b.reshape(y, [n, dim, h, w])
        }
        y = try b.scoped("conv3") { try lowerConv2d(b, y, c1: dim, c2: c, k: 1, bias: true) }
        y = try b.op("Concat", [x, y], ["axis": .int(1)])
        return try b.scoped("conv4") { try lowerConv2d(b, y, c1: 2 * c, c2: c, k: k, p: k / 2, bias: true) }
    }

    /// Records that the map must divide into patches; when it does not, the transformer is left out
    /// (shapes stay right for the stride probe) and the model lowering reports the requirement.
    func requirePatches(_ b: GraphBuilder, height h: Int, width w: Int) -> Bool {
        let image = b.type(b.graph.inputs[0]).shape
        let exact = image[2] % h == 0 && image[3] % w == 0
        let met = h % patch == 0 && w % patch == 0
        b.sizeRequirements.append(SizeRequirement(
            module: "MobileViTAttention", layer: b.currentScope,
            problem: "the \(h)x\(w) feature map does not divide into \(patch)x\(patch) patches",
            multiple: exact ? (image[2] / h * patch, image[3] / w * patch) : nil, met: met))
        return met
    }

    /// `Transformer(dim, depth, heads=8, head_dim=64, mlp_dim)` on (b, p, n, dim) tokens:
    /// `layers.i.0` = PreNorm(Attention), `layers.i.1` = PreNorm(FeedForward), each residual.
    func lowerTransformer(_ b: GraphBuilder, _ x: ValueID) throws -> ValueID {
        var out = x
        for i in 0..<depth {
            try b.scoped("layers.\(i)") {
                let a = try b.scoped("0") {
                    let t = try b.scoped("ln") { try lowerLayerNorm(b, out, dim) }
                    return try b.scoped("fn") { try lowerAttention(b, t) }
                }
                out = try b.op("Add", [out, a])
                let f = try b.scoped("1") {
                    let t = try b.scoped("ln") { try lowerLayerNorm(b, out, dim) }
                    return try b.scoped("fn") {
                        try b.scoped("net") {
                            var v = try b.scoped("0") { try lowerLinear(b, t, dim, mlpDim) }
                            v = try Activation.silu.lower(b, v)
                            return try b.scoped("3") { try lowerLinear(b, v, mlpDim, dim) }
                        }
                    }
                }
                out = try b.op("Add", [out, f])
            }
        }
        return out
    }

    /// Multi-head self-attention: `to_qkv` (no bias), softmax(q k^T * head_dim^-0.5) v, `to_out.0`.
    func lowerAttention(_ b: GraphBuilder, _ x: ValueID) throws -> ValueID {
        let s = b.type(x).shape
        let (bs, p, tokens) = (s[0], s[1], s[2])
        let heads = Self.heads, d = Self.headDim, inner = heads * d
        let qkv = try b.scoped("to_qkv") { try lowerLinear(b, x, dim, 3 * inner, bias: false) }
        let parts = try b.add("Split", [qkv, b.constant(ints: [inner, inner, inner])], ["axis": .int(-1)], outputs: 3)
        // 'b p n (h d) -> b p h n d'; k goes straight to 'b p h d n'.
        let scale = 1 / Float(d).squareRoot()
        let exact = isPowerOfTwo(scale)
        var q = try b.transpose(try b.reshape(exact ? try b.scale(parts[0], scale) : parts[0], [bs, p, tokens, heads, d]), [0, 1, 3, 2, 4])
        let kT = try b.transpose(try b.reshape(parts[1], [bs, p, tokens, heads, d]), [0, 1, 3, 4, 2])
        let v = try b.transpose(try b.reshape(parts[2], [bs, p, tokens, heads, d]), [0, 1, 3, 2, 4])
        q = try b.op("MatMul", [q, kT])
        if !exact { q = try b.scale(q, scale) }
        let attn = try b.op("Softmax", [q], ["axis": .int(-1)])
        var o = try b.op("MatMul", [attn, v])
        o = try b.reshape(try b.transpose(o, [0, 1, 3, 2, 4]), [bs, p, tokens, inner])
        return try b.scoped("to_out.0") { try lowerLinear(b, o, inner, dim) }
    }
}
