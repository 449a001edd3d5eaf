// YOLOv5's bottleneck family (models/common.py): Bottleneck, BottleneckCSP, C3.

/// `Bottleneck(c1, c2, shortcut=True, g=1, e=0.5)` in the current scope: cv1 a 1x1 Conv, cv2 a 3x3 one.
/// Ultralytics' Bottleneck takes the two kernels as `k=(k1, k2)` (default (3, 3)).
func lowerBottleneck(_ b: GraphBuilder, _ x: ValueID, c1: Int, c2: Int, shortcut: Bool, g: Int, e: Double,
                     k: (Int, Int) = (1, 3), act: Activation) throws -> ValueID
{
    let c_ = Int(Double(c2) * e)
    let y1 = try lowerConvSubmodule(b, "cv1", x, c1, c_, k: k.0, s: 1, act: act)
    let y2 = try lowerConvSubmodule(b, "cv2", y1, c_, c2, k: k.1, s: 1, g: g, act: act)
    return shortcut && c1 == c2 ? try b.op("Add", [x, y2]) : y2
}

/// n Bottlenecks with e=1.0 in an nn.Sequential (named `0` ... `n-1` in the current scope).
func lowerBottleneckStack(_ b: GraphBuilder, _ x: ValueID, c: Int, n: Int, shortcut: Bool, g: Int,
                          k: (Int, Int) = (1, 3), act: Activation) throws -> ValueID
{
    var y = x
    for i in 0..<n {
        y = try b.scoped(String(i)) { try lowerBottleneck(b, y, c1: c, c2: c, shortcut: shortcut, g: g, e: 1.0, k: k, act: act) }
    }
    return y
}

/// Arguments shared by the CSP modules: `[c2, shortcut, g, e]` after parse_model inserts `n`.
struct CSPArguments {
    let c1, c2, n, g: Int
    let shortcut: Bool
    let e: Double

    init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        n = ctx.depth
        ctx.repeats = 1
        shortcut = try ctx.bool(1, "shortcut", default: true)
        g = try ctx.int(2, "g", default: 1)
        e = try ctx.double(3, "e", default: 0.5)
        guard Int(Double(c2) * e) >= 1, e <= 64 else { throw ctx.fail("expansion e = \(e) gives \(Int(Double(c2) * e)) hidden channels; needs at least 1") }
    }

    var constructorArguments: [ArgValue] {
        var a: [ArgValue] = [.int(c1), .int(c2), .int(n)]
        if !shortcut || g != 1 || e != 0.5 { a.append(.bool(shortcut)) }
        if g != 1 || e != 0.5 { a.append(.int(g)) }
        if e != 0.5 { a.append(.float(e)) }
        return a
    }
}

/// `Bottleneck(c1, c2, shortcut=True, g=1, e=0.5)` as a layer.
public struct BottleneckModule: YoloModule {
    public static let names = ["Bottleneck"]
    public static let arguments = ["c2", "shortcut", "g", "e"]
    public static let requiredArguments = 1
    let c1, c2, g: Int
    let shortcut: Bool
    let e: Double
    let act: Activation

    public init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        shortcut = try ctx.bool(1, "shortcut", default: true)
        g = try ctx.int(2, "g", default: 1)
        e = try ctx.double(3, "e", default: 0.5)
        guard Int(Double(c2) * e) >= 1, e <= 64 else { throw ctx.fail("expansion e = \(e) gives \(Int(Double(c2) * e)) hidden channels; needs at least 1") }
        act = ctx.defaultActivation
    }

    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] { [.int(c1), .int(c2)] }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try lowerBottleneck(b, inputs[0], c1: c1, c2: c2, shortcut: shortcut, g: g, e: e, act: act)
    }
}

/// `BottleneckCSP(c1, c2, n=1, shortcut=True, g=1, e=0.5)`: its `bn` on the concatenation of cv3 and
/// cv2 is a BatchNorm no single conv feeds, which YOLOv5's fuse() leaves alone; split-batchnorm-over-concat
/// folds it into both.
public struct BottleneckCSPModule: YoloModule {
    public static let names = ["BottleneckCSP"]
    public static let arguments = ["c2", "shortcut", "g", "e"]
    public static let requiredArguments = 1
    let a: CSPArguments
    let act: Activation

    public init(_ ctx: inout ModuleContext) throws {
        a = try CSPArguments(&ctx)
        act = ctx.defaultActivation
    }

    public var outputChannels: Int { a.c2 }
    public var constructorArguments: [ArgValue] { a.constructorArguments }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let x = inputs[0]
        let c_ = Int(Double(a.c2) * a.e)
        let t = try lowerConvSubmodule(b, "cv1", x, a.c1, c_, act: act)
        let m = try b.scoped("m") { try lowerBottleneckStack(b, t, c: c_, n: a.n, shortcut: a.shortcut, g: a.g, act: act) }
        let y1 = try b.scoped("cv3") { try lowerConv2d(b, m, c1: c_, c2: c_, k: 1, bias: false) }
        let y2 = try b.scoped("cv2") { try lowerConv2d(b, x, c1: a.c1, c2: c_, k: 1, bias: false) }
        let cat = try b.op("Concat", [y1, y2], ["axis": .int(1)])
        let bn = try b.scoped("bn") { try lowerBatchNorm2d(b, cat, c: 2 * c_) }
        // BottleneckCSP's own act is nn.SiLU(), whatever the config's default activation.
        let z = try Activation.silu.lower(b, bn)
        return try lowerConvSubmodule(b, "cv4", z, 2 * c_, a.c2, act: act)
    }
}

/// C3 and the variants that replace its `m` (C3x, C3TR, C3Ghost): parse_model's arguments
/// `[c2, shortcut, g, e]` with `n` inserted, and C3's frame; a variant says only what `m` is.
protocol C3Variant: YoloModule {
    var a: CSPArguments { get }
    var act: Activation { get }
    init(_ a: CSPArguments, act: Activation, _ ctx: ModuleContext) throws
    /// `m` on cv1's output `t` of c_ channels, under the scope `m`.
    func lowerM(_ b: GraphBuilder, _ t: ValueID, _ c_: Int) throws -> ValueID
}

extension C3Variant {
    public static var arguments: [String] { ["c2", "shortcut", "g", "e"] }
    public static var requiredArguments: Int { 1 }

    public init(_ ctx: inout ModuleContext) throws {
        let a = try CSPArguments(&ctx)
        try self.init(a, act: ctx.defaultActivation, ctx)
    }

    public var outputChannels: Int { a.c2 }
    public var constructorArguments: [ArgValue] { a.constructorArguments }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try lowerC3(b, inputs[0], c1: a.c1, c2: a.c2, e: a.e, act: act) { t, c_ in try b.scoped("m") { try lowerM(b, t, c_) } }
    }
}

/// `C3(c1, c2, n=1, shortcut=True, g=1, e=0.5)`: CSP Bottleneck with 3 convolutions; `m` is n Bottlenecks.
public struct C3Module: C3Variant {
    public static let names = ["C3"]
    let a: CSPArguments
    let act: Activation

    init(_ a: CSPArguments, act: Activation, _ ctx: ModuleContext) { (self.a, self.act) = (a, act) }

    func lowerM(_ b: GraphBuilder, _ t: ValueID, _ c_: Int) throws -> ValueID {
        try lowerBottleneckStack(b, t, c: c_, n: a.n, shortcut: a.shortcut, g: a.g, act: act)
    }
}

/// C3's frame around its `m` (Bottlenecks in C3; CrossConvs, a TransformerBlock, an SPP or
/// GhostBottlenecks in C3x, C3TR, C3SPP, C3Ghost): cv3(cat(m(cv1(x)), cv2(x))), c_ = int(c2 * e).
/// `m` receives cv1's output and c_, and builds its submodules under the scope `m`.
func lowerC3(_ b: GraphBuilder, _ x: ValueID, c1: Int, c2: Int, e: Double, act: Activation,
             m: (ValueID, Int) throws -> ValueID) throws -> ValueID
{
    let c_ = Int(Double(c2) * e)
    let t = try lowerConvSubmodule(b, "cv1", x, c1, c_, act: act)
    let y1 = try m(t, c_)
    let y2 = try lowerConvSubmodule(b, "cv2", x, c1, c_, act: act)
    let cat = try b.op("Concat", [y1, y2], ["axis": .int(1)])
    return try lowerConvSubmodule(b, "cv3", cat, 2 * c_, c2, act: act)
}
