import Foundation

// YOLOv5's convolution family (models/common.py): Conv, DWConv, Focus, and the nn.Conv2d and
// nn.BatchNorm2d they are made of.

/// `nn.Conv2d` in the current scope: parameters `weight` (and `bias`), one Conv node.
public func lowerConv2d(_ b: GraphBuilder, _ x: ValueID, c1: Int, c2: Int, k: Int, s: Int = 1, p: Int = 0,
                        g: Int = 1, d: Int = 1, bias: Bool) throws -> ValueID
{
    try lowerConv2d(b, x, c1: c1, c2: c2, kernel: (k, k), stride: (s, s), pad: (p, p), g: g, d: d, bias: bias)
}

/// `nn.Conv2d` with a (height, width) kernel, stride and padding (CrossConv's 1xk and kx1).
public func lowerConv2d(_ b: GraphBuilder, _ x: ValueID, c1: Int, c2: Int, kernel k: (Int, Int), stride s: (Int, Int),
                        pad p: (Int, Int), g: Int = 1, d: Int = 1, bias: Bool) throws -> ValueID
{
    guard g >= 1, c1 % g == 0, c2 % g == 0 else {
        throw ShapeError(layer: b.currentScope, op: "Conv", message: "groups \(g) must divide input channels \(c1) and output channels \(c2)")
    }
    let fanIn = Float(c1 / g) * Float(k.0) * Float(k.1)  // in Float: sizes come from the config
    let bound = 1 / fanIn.squareRoot()
    let w = try b.parameter("weight", shape: [c2, c1 / g, k.0, k.1], initializer: .uniform(bound: bound))
    let bv = bias ? try b.parameter("bias", shape: [c2], initializer: .uniform(bound: bound)) : nil
    return try b.op("Conv", [x, w, bv], [
        "dilations": .ints([d, d]), "group": .int(g), "kernel_shape": .ints([k.0, k.1]),
        "pads": .ints([p.0, p.1, p.0, p.1]), "strides": .ints([s.0, s.1]),
    ])
}

/// `nn.BatchNorm2d(c, eps)` in the current scope: eps as the weights record it, else the model's
/// (`GraphBuilder.batchNormEpsilon`). Seeded statistics are deliberately far from identity so that
/// fusion has something to fold.
public func lowerBatchNorm2d(_ b: GraphBuilder, _ x: ValueID, c: Int, eps: Float? = nil) throws -> ValueID {
    let w = try b.parameter("weight", shape: [c], initializer: .range(0.5, 1.5))
    let bias = try b.parameter("bias", shape: [c], initializer: .range(-0.25, 0.25))
    let mean = try b.parameter("running_mean", shape: [c], kind: .buffer, initializer: .range(-0.25, 0.25))
    let v = try b.parameter("running_var", shape: [c], kind: .buffer, initializer: .range(0.5, 2.0))
    let epsilon = b.parameters.batchNormEpsilon(module: b.currentScope) ?? eps ?? b.batchNormEpsilon
    return try b.op("BatchNormalization", [x, w, bias, mean, v], ["epsilon": .float(epsilon)])
}

/// YOLOv5 `Conv` in the current scope: `conv` (no bias), `bn`, `act`.
public func lowerConvBNAct(_ b: GraphBuilder, _ x: ValueID, c1: Int, c2: Int, k: Int = 1, s: Int = 1, p: Int? = nil,
                           g: Int = 1, d: Int = 1, act: Activation) throws -> ValueID
{
    let pad = autopad(k, p, dilation: d)
    return try lowerConvBNAct(b, x, c1: c1, c2: c2, kernel: (k, k), stride: (s, s), pad: (pad, pad), g: g, d: d, act: act)
}

/// YOLOv5 `Conv` with a (height, width) kernel and stride; autopad pads each side for its (dilated) kernel.
public func lowerConvBNAct(_ b: GraphBuilder, _ x: ValueID, c1: Int, c2: Int, kernel: (Int, Int), stride: (Int, Int),
                           pad: (Int, Int)? = nil, g: Int = 1, d: Int = 1, act: Activation) throws -> ValueID
{
    let y = try b.scoped("conv") {
        try lowerConv2d(b, x, c1: c1, c2: c2, kernel: kernel, stride: stride,
                        pad: pad ?? (autopad(kernel.0, nil, dilation: d), autopad(kernel.1, nil, dilation: d)),
                        g: g, d: d, bias: false)
    }
    let z = try b.scoped("bn") { try lowerBatchNorm2d(b, y, c: c2) }
    b.convModuleBatchNormChannels += c2
    return try act.lower(b, z)
}

/// A `Conv` submodule named `name` (`cv1`, `conv`, ...).
func lowerConvSubmodule(_ b: GraphBuilder, _ name: String, _ x: ValueID, _ c1: Int, _ c2: Int, k: Int = 1,
                        s: Int = 1, p: Int? = nil, g: Int = 1, d: Int = 1, act: Activation) throws -> ValueID
{
    try b.scoped(name) { try lowerConvBNAct(b, x, c1: c1, c2: c2, k: k, s: s, p: p, g: g, d: d, act: act) }
}

/// `Conv(c1, c2, k=1, s=1, p=None, g=1, d=1, act=True)`.
public struct ConvModule: YoloModule {
    public static let names = ["Conv"]
    public static let arguments = ["c2", "k", "s", "p", "g", "d", "act"]
    public static let requiredArguments = 1
    let c1, c2, k, s, g, d: Int
    let p: Int?
    let act: Activation
    let actArg: ArgValue?

    public init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        k = try ctx.int(1, "k", default: 1)
        s = try ctx.int(2, "s", default: 1)
        p = ctx.arg(3) == nil || ctx.arg(3) == ArgValue.none ? nil : try ctx.int(3, "p")
        g = try ctx.int(4, "g", default: 1)
        d = try ctx.int(5, "d", default: 1)
        act = try ctx.activation(6)
        actArg = ctx.arg(6)
        guard k >= 1, s >= 1, g >= 1, d >= 1 else { throw ctx.fail("k, s, g and d must be positive") }
    }

    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] {
        var a: [ArgValue] = [.int(c1), .int(c2), .int(k), .int(s)]
        if p != nil || g != 1 || d != 1 || actArg != nil { a.append(p.map { .int($0) } ?? .none) }
        if g != 1 || d != 1 || actArg != nil { a.append(.int(g)) }
        if d != 1 || actArg != nil { a.append(.int(d)) }
        if let actArg { a.append(actArg) }
        return a
    }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try lowerConvBNAct(b, inputs[0], c1: c1, c2: c2, k: k, s: s, p: p, g: g, d: d, act: act)
    }
}

/// `DWConv(c1, c2, k=1, s=1, d=1, act=True)`: a Conv with `g = gcd(c1, c2)`.
public struct DWConvModule: YoloModule {
    public static let names = ["DWConv"]
    public static let arguments = ["c2", "k", "s", "d", "act"]
    public static let requiredArguments = 1
    let c1, c2, k, s, d: Int
    let act: Activation

    public init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        k = try ctx.int(1, "k", default: 1)
        s = try ctx.int(2, "s", default: 1)
        d = try ctx.int(3, "d", default: 1)
        act = try ctx.activation(4)
    }

    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] { [.int(c1), .int(c2), .int(k), .int(s)] }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try lowerConvBNAct(b, inputs[0], c1: c1, c2: c2, k: k, s: s, g: gcd(c1, c2), d: d, act: act)
    }
}

func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

/// `Focus(c1, c2, k=1, s=1, p=None, g=1, act=True)`: space-to-depth by four strided slices, then Conv.
public struct FocusModule: YoloModule {
    public static let names = ["Focus"]
    public static let arguments = ["c2", "k", "s", "p", "g", "act"]
    public static let requiredArguments = 1
    let c1, c2, k, s, g: Int
    let p: Int?
    let act: Activation

    public init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        k = try ctx.int(1, "k", default: 1)
        s = try ctx.int(2, "s", default: 1)
        p = ctx.arg(3) == nil || ctx.arg(3) == ArgValue.none ? nil : try ctx.int(3, "p")
        g = try ctx.int(4, "g", default: 1)
        act = try ctx.activation(5)
    }

    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] { [.int(c1), .int(c2), .int(k), .int(s)] }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let x = inputs[0]
        // x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]
        let big = Int(Int32.max)
        var parts: [ValueID] = []
        for (y0, x0) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            parts.append(try b.op("Slice", [x, b.constant(ints: [y0, x0]), b.constant(ints: [big, big]),
                                            b.constant(ints: [2, 3]), b.constant(ints: [2, 2])]))
        }
        let cat = try b.op("Concat", parts, ["axis": .int(1)])
        return try lowerConvSubmodule(b, "conv", cat, c1 * 4, c2, k: k, s: s, p: p, g: g, act: act)
    }
}
