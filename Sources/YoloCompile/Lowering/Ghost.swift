// YOLOv5's Ghost family (models/common.py, after GhostNet): GhostConv, GhostBottleneck, C3Ghost.

/// `GhostConv(c1, c2, k=1, s=1, g=1, act=True)` in the current scope: cv1 makes half the channels,
/// a cheap 5x5 depthwise cv2 the other half from them: cat(y, cv2(y)), y = cv1(x).
func lowerGhostConv(_ b: GraphBuilder, _ x: ValueID, c1: Int, c2: Int, k: Int = 1, s: Int = 1, g: Int = 1,
                    act: Activation) throws -> ValueID
{
    let c_ = c2 / 2
    guard c_ >= 1 else { throw ShapeError(layer: b.currentScope, op: "GhostConv", message: "needs at least 2 output channels, got \(c2)") }
    let y = try lowerConvSubmodule(b, "cv1", x, c1, c_, k: k, s: s, g: g, act: act)
    let z = try lowerConvSubmodule(b, "cv2", y, c_, c_, k: 5, s: 1, g: c_, act: act)
    return try b.op("Concat", [y, z], ["axis": .int(1)])
}

/// `GhostBottleneck(c1, c2, k=3, s=1)` in the current scope:
///
///     conv = Sequential(GhostConv(c1, c2 // 2, 1, 1), DWConv(c_, c_, k, s, act=False) if s == 2 else Identity,
///                       GhostConv(c2 // 2, c2, 1, 1, act=False))
///     shortcut = Sequential(DWConv(c1, c1, k, s, act=False), Conv(c1, c2, 1, 1, act=False)) if s == 2 else Identity
///     conv(x) + shortcut(x)
func lowerGhostBottleneck(_ b: GraphBuilder, _ x: ValueID, c1: Int, c2: Int, k: Int = 3, s: Int = 1,
                          act: Activation) throws -> ValueID
{
    let c_ = c2 / 2
    let y = try b.scoped("conv") {
        var y = try b.scoped("0") { try lowerGhostConv(b, x, c1: c1, c2: c_, act: act) }
        if s == 2 { y = try b.scoped("1") { try lowerConvBNAct(b, y, c1: c_, c2: c_, k: k, s: s, g: c_, act: .identity) } }
        return try b.scoped("2") { try lowerGhostConv(b, y, c1: c_, c2: c2, act: .identity) }
    }
    var shortcut = x
    if s == 2 {
        shortcut = try b.scoped("shortcut") {
            let d = try b.scoped("0") { try lowerConvBNAct(b, x, c1: c1, c2: c1, k: k, s: s, g: c1, act: .identity) }
            return try b.scoped("1") { try lowerConvBNAct(b, d, c1: c1, c2: c2, act: .identity) }
        }
    }
    return try b.op("Add", [y, shortcut])
}

/// `GhostConv(c1, c2, k=1, s=1, g=1, act=True)` as a layer.
public struct GhostConvModule: YoloModule {
    public static let names = ["GhostConv"]
    public static let arguments = ["c2", "k", "s", "g", "act"]
    public static let requiredArguments = 1
    let c1, c2, k, s, g: Int
    let act: Activation

    public init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        k = try ctx.int(1, "k", default: 1)
        s = try ctx.int(2, "s", default: 1)
        g = try ctx.int(3, "g", default: 1)
        act = try ctx.activation(4)
        guard k >= 1, s >= 1, g >= 1 else { throw ctx.fail("k, s and g must be positive") }
        // cat(cv1(x), cv2(cv1(x))) has 2 * (c2 // 2) channels: an odd c2 would lose one.
        guard c2 >= 2, c2 % 2 == 0 else { throw ctx.fail("output channels must be even (two halves of c2 // 2), got \(c2)") }
        arguments = ctx.args
    }

    let arguments: [ArgValue]
    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] { [.int(c1), .int(c2)] + arguments.dropFirst() }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try lowerGhostConv(b, inputs[0], c1: c1, c2: c2, k: k, s: s, g: g, act: act)
    }
}

/// `GhostBottleneck(c1, c2, k=3, s=1)` as a layer. With stride 1 its shortcut is the identity, so the
/// input must already have c2 channels (PyTorch would fail in the addition).
public struct GhostBottleneckModule: YoloModule {
    public static let names = ["GhostBottleneck"]
    public static let arguments = ["c2", "k", "s"]
    public static let requiredArguments = 1
    let c1, c2, k, s: Int
    let act: Activation

    public init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        k = try ctx.int(1, "k", default: 3)
        s = try ctx.int(2, "s", default: 1)
        guard k >= 1, s == 1 || s == 2 else { throw ctx.fail("k must be positive and s 1 or 2, got k \(k), s \(s)") }
        // Its first GhostConv makes c2 // 2 channels as two halves: c2 must be a multiple of 4.
        guard c2 >= 4, c2 % 4 == 0 else { throw ctx.fail("output channels must be a multiple of 4 (GhostConvs of c2 // 2 in halves), got \(c2)") }
        guard s == 2 || c1 == c2 else {
            throw ctx.fail("with stride 1 the shortcut is the identity, so input channels \(c1) must equal output channels \(c2)")
        }
        act = ctx.defaultActivation
        arguments = ctx.args
    }

    let arguments: [ArgValue]
    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] { [.int(c1), .int(c2)] + arguments.dropFirst() }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try lowerGhostBottleneck(b, inputs[0], c1: c1, c2: c2, k: k, s: s, act: act)
    }
}

/// `C3Ghost(c1, c2, n=1, shortcut=True, g=1, e=0.5)`: C3 with `m = Sequential(GhostBottleneck(c_, c_) x n)`
/// (shortcut and g are accepted and unused, as in YOLOv5).
public struct C3GhostModule: C3Variant {
    public static let names = ["C3Ghost"]
    let a: CSPArguments
    let act: Activation

    init(_ a: CSPArguments, act: Activation, _ ctx: ModuleContext) throws {
        let c_ = Int(Double(a.c2) * a.e)
        guard c_ >= 4, c_ % 4 == 0 else { throw ctx.fail("its GhostBottlenecks need hidden channels c2 * e that are a multiple of 4, got \(c_)") }
        (self.a, self.act) = (a, act)
    }

    func lowerM(_ b: GraphBuilder, _ t: ValueID, _ c_: Int) throws -> ValueID {
        var y = t
        for i in 0..<a.n { y = try b.scoped(String(i)) { try lowerGhostBottleneck(b, y, c1: c_, c2: c_, act: act) } }
        return y
    }
}
