// Ultralytics' split-concatenate blocks (ultralytics/nn/modules/block.py): Bottleneck with its kernel
// pair, C2, C2f, C3k and C3k2 (the ultralytics package, 8.x; C3k2's signature as of 8.4, with `attn`).

/// Ultralytics' `Bottleneck(c1, c2, shortcut=True, g=1, k=(3, 3), e=0.5)` as a layer.
public struct UltralyticsBottleneckModule: YoloModule {
    public static let names = ["Bottleneck"]
    public static let arguments = ["c2", "shortcut", "g", "k", "e"]
    public static let requiredArguments = 1
    let c1, c2, g: Int
    let shortcut: Bool
    let k: IntOrPair
    let e: Double
    let act: Activation
    let given: Int

    public init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        shortcut = try ctx.bool(1, "shortcut", default: true)
        g = try ctx.int(2, "g", default: 1)
        k = try ctx.intOrPair(3, "k", default: IntOrPair(3))
        e = try ctx.double(4, "e", default: 0.5)
        guard k.h >= 1, k.w >= 1, g >= 1 else { throw ctx.fail("k and g must be positive") }
        guard Int(Double(c2) * e) >= 1, e <= 64 else { throw ctx.fail("expansion e = \(e) gives \(Int(Double(c2) * e)) hidden channels; needs at least 1") }
        act = ctx.defaultActivation
        given = ctx.args.count
    }

    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] {
        Array(([.int(c1), .int(c2), .bool(shortcut), .int(g), .list([.int(k.h), .int(k.w)]), .float(e)]).prefix(given + 1))
    }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try lowerBottleneck(b, inputs[0], c1: c1, c2: c2, shortcut: shortcut, g: g, e: e, k: (k.h, k.w), act: act)
    }
}

/// C2f's frame: cv1 to 2c channels, split in two halves; each block of `m` reads the last piece; cv2 joins
/// them all, cv2(cat(a, b, m0(b), m1(m0(b)), ...)), c = int(c2 * e). `block` builds `m.i` on its input.
func lowerC2f(_ b: GraphBuilder, _ x: ValueID, c1: Int, c2: Int, n: Int, e: Double, act: Activation,
              block: (ValueID, Int) throws -> ValueID) throws -> ValueID
{
    let c = Int(Double(c2) * e)
    let t = try lowerConvSubmodule(b, "cv1", x, c1, 2 * c, act: act)
    var pieces = try b.add("Split", [t, b.constant(ints: [c, c])], ["axis": .int(1)], outputs: 2)
    for i in 0..<n {
        let last = pieces[pieces.count - 1]
        pieces.append(try b.scoped("m") { try b.scoped(String(i)) { try block(last, c) } })
    }
    let cat = try b.op("Concat", pieces, ["axis": .int(1)])
    return try lowerConvSubmodule(b, "cv2", cat, (2 + n) * c, c2, act: act)
}

/// The hidden channels C2f and C3k2 get from c2 and e, checked.
private func c2fHidden(_ ctx: ModuleContext, c2: Int, e: Double) throws {
    guard Int(Double(c2) * e) >= 1, e <= 64 else { throw ctx.fail("expansion e = \(e) gives \(Int(Double(c2) * e)) hidden channels; needs at least 1") }
}

/// parse_model's `[c2, shortcut, g, e]` with n inserted, as C2 and C2f take them; printed as given, as
/// Ultralytics prints them.
struct SplitBlockArguments {
    let c1, c2, n, g: Int
    let shortcut: Bool
    let e: Double
    let printed: [ArgValue]

    init(_ ctx: inout ModuleContext, shortcutByDefault: Bool) throws {
        (c1, c2) = try ctx.channelArguments()
        n = ctx.depth
        ctx.repeats = 1
        shortcut = try ctx.bool(1, "shortcut", default: shortcutByDefault)
        g = try ctx.int(2, "g", default: 1)
        e = try ctx.double(3, "e", default: 0.5)
        guard g >= 1 else { throw ctx.fail("g must be positive") }
        try c2fHidden(ctx, c2: c2, e: e)
        printed = [.int(c1), .int(c2), .int(n)] + Array([ArgValue.bool(shortcut), .int(g), .float(e)].prefix(ctx.args.count - 1))
    }

    /// The hidden channels, int(c2 * e).
    var c: Int { Int(Double(c2) * e) }
}

/// `C2f(c1, c2, n=1, shortcut=False, g=1, e=0.5)`: m holds n Bottlenecks(c, c, shortcut, g, k=(3, 3), e=1.0).
public struct C2fModule: YoloModule {
    public static let names = ["C2f"]
    public static let arguments = ["c2", "shortcut", "g", "e"]
    public static let requiredArguments = 1
    let a: SplitBlockArguments
    let act: Activation

    public init(_ ctx: inout ModuleContext) throws {
        a = try SplitBlockArguments(&ctx, shortcutByDefault: false)
        act = ctx.defaultActivation
    }

    public var outputChannels: Int { a.c2 }
    public var constructorArguments: [ArgValue] { a.printed }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try lowerC2f(b, inputs[0], c1: a.c1, c2: a.c2, n: a.n, e: a.e, act: act) { x, c in
            try lowerBottleneck(b, x, c1: c, c2: c, shortcut: a.shortcut, g: a.g, e: 1.0, k: (3, 3), act: act)
        }
    }
}

/// `C3k2(c1, c2, n=1, c3k=False, e=0.5, attn=False, g=1, shortcut=True)`: C2f's frame whose blocks are
/// `Bottleneck(c, c, shortcut, g)` (e=0.5), `C3k(c, c, 2, shortcut, g)` when c3k, or
/// `Sequential(Bottleneck, PSABlock(c, 0.5, max(c // 64, 1)))` when attn. parse_model sets c3k for
/// scales m, l and x.
public struct C3k2Module: YoloModule {
    public static let names = ["C3k2"]
    public static let arguments = ["c2", "c3k", "e", "attn", "g", "shortcut"]
    public static let requiredArguments = 1
    let c1, c2, n, g: Int
    let c3k, attn, shortcut: Bool
    let e: Double
    let act: Activation
    let printed: [ArgValue]

    public init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        n = ctx.depth
        ctx.repeats = 1
        // `if scale in {"m", "l", "x"}: args[3:4] = [True]` (8.4; 8.3 tested `scale in "mlx"`, which an
        // empty scale also passed).
        let forced = ["m", "l", "x"].contains(ctx.config.scale ?? "")
        c3k = forced ? true : try ctx.bool(1, "c3k", default: false)
        e = try ctx.double(2, "e", default: 0.5)
        attn = try ctx.bool(3, "attn", default: false)
        g = try ctx.int(4, "g", default: 1)
        shortcut = try ctx.bool(5, "shortcut", default: true)
        guard g >= 1 else { throw ctx.fail("g must be positive") }
        try c2fHidden(ctx, c2: c2, e: e)
        act = ctx.defaultActivation
        var a: [ArgValue] = [.int(c1), .int(c2), .int(n)] + ctx.args.dropFirst()
        if forced { if a.count > 3 { a[3] = .bool(true) } else { a.append(.bool(true)) } }
        printed = a
    }

    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] { printed }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try lowerC2f(b, inputs[0], c1: c1, c2: c2, n: n, e: e, act: act) { x, c in
            if attn {
                let y = try b.scoped("0") { try lowerBottleneck(b, x, c1: c, c2: c, shortcut: shortcut, g: g, e: 0.5, k: (3, 3), act: act) }
                return try b.scoped("1") { try lowerPSABlock(b, y, c: c, attnRatio: 0.5, heads: max(c / 64, 1), shortcut: true, act: act) }
            }
            if c3k { return try lowerC3k(b, x, c1: c, c2: c, n: 2, shortcut: shortcut, g: g, e: 0.5, k: 3, act: act) }
            return try lowerBottleneck(b, x, c1: c, c2: c, shortcut: shortcut, g: g, e: 0.5, k: (3, 3), act: act)
        }
    }
}

/// `C3k(c1, c2, n=1, shortcut=True, g=1, e=0.5, k=3)`: C3's frame whose m is n Bottlenecks with kernels (k, k).
func lowerC3k(_ b: GraphBuilder, _ x: ValueID, c1: Int, c2: Int, n: Int, shortcut: Bool, g: Int, e: Double, k: Int,
              act: Activation) throws -> ValueID
{
    try lowerC3(b, x, c1: c1, c2: c2, e: e, act: act) { t, c_ in
        try b.scoped("m") { try lowerBottleneckStack(b, t, c: c_, n: n, shortcut: shortcut, g: g, k: (k, k), act: act) }
    }
}

/// `C2(c1, c2, n=1, shortcut=True, g=1, e=0.5)`: cv1 to 2c, split in a and b; cv2(cat(m(a), b)), m being n
/// Bottlenecks(c, c, shortcut, g, k=((3, 3), (3, 3)), e=1.0) in an nn.Sequential.
public struct C2Module: YoloModule {
    public static let names = ["C2"]
    public static let arguments = ["c2", "shortcut", "g", "e"]
    public static let requiredArguments = 1
    let a: SplitBlockArguments
    let act: Activation

    public init(_ ctx: inout ModuleContext) throws {
        a = try SplitBlockArguments(&ctx, shortcutByDefault: true)
        act = ctx.defaultActivation
    }

    public var outputChannels: Int { a.c2 }
    public var constructorArguments: [ArgValue] { a.printed }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let c = a.c
        let t = try lowerConvSubmodule(b, "cv1", inputs[0], a.c1, 2 * c, act: act)
        let halves = try b.add("Split", [t, b.constant(ints: [c, c])], ["axis": .int(1)], outputs: 2)
        let m = try b.scoped("m") { try lowerBottleneckStack(b, halves[0], c: c, n: a.n, shortcut: a.shortcut, g: a.g, k: (3, 3), act: act) }
        let cat = try b.op("Concat", [m, halves[1]], ["axis": .int(1)])
        return try lowerConvSubmodule(b, "cv2", cat, 2 * c, a.c2, act: act)
    }
}
