// Transposed convolutions a YOLOv5 config can name: nn.ConvTranspose2d and DWConvTranspose2d.

/// `nn.ConvTranspose2d` in the current scope: weight (c1, c2 / g, k, k), bias (c2) when `bias`.
func lowerConvTranspose2d(_ b: GraphBuilder, _ x: ValueID, c1: Int, c2: Int, k: Int, s: Int, p: Int, outputPadding: Int,
                          g: Int, d: Int, bias: Bool) throws -> ValueID
{
    guard g >= 1, c1 % g == 0, c2 % g == 0 else {
        throw ShapeError(layer: b.currentScope, op: "ConvTranspose", message: "groups \(g) must divide input channels \(c1) and output channels \(c2)")
    }
    // PyTorch's default init bound for ConvTranspose2d: fan_in is weight.size(1) * k * k.
    let bound = 1 / (Float(c2 / g) * Float(k) * Float(k)).squareRoot()  // in Float: sizes come from the config
    let w = try b.parameter("weight", shape: [c1, c2 / g, k, k], initializer: .uniform(bound: bound))
    let bv = bias ? try b.parameter("bias", shape: [c2], initializer: .uniform(bound: bound)) : nil
    return try b.op("ConvTranspose", [x, w, bv], [
        "dilations": .ints([d, d]), "group": .int(g), "kernel_shape": .ints([k, k]),
        "output_padding": .ints([outputPadding, outputPadding]), "pads": .ints([p, p, p, p]), "strides": .ints([s, s]),
    ])
}

/// `nn.ConvTranspose2d(c1, c2, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1)`,
/// which parse_model width-scales like Conv.
public struct ConvTranspose2dModule: YoloModule {
    public static let names = ["nn.ConvTranspose2d", "ConvTranspose2d"]
    public static let arguments = ["c2", "kernel_size", "stride", "padding", "output_padding", "groups", "bias", "dilation"]
    public static let requiredArguments = 2
    let c1, c2, k, s, p, outputPadding, g, d: Int
    let bias: Bool

    public init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        k = try ctx.int(1, "kernel_size")
        s = try ctx.int(2, "stride", default: 1)
        p = try ctx.int(3, "padding", default: 0)
        outputPadding = try ctx.int(4, "output_padding", default: 0)
        g = try ctx.int(5, "groups", default: 1)
        bias = try ctx.bool(6, "bias", default: true)
        d = try ctx.int(7, "dilation", default: 1)
        guard k >= 1, s >= 1, p >= 0, g >= 1, d >= 1 else { throw ctx.fail("kernel_size, stride, groups and dilation must be positive and padding non-negative") }
        guard outputPadding >= 0, outputPadding < max(s, d) else {
            throw ctx.fail("output_padding \(outputPadding) must be smaller than stride \(s) or dilation \(d)")
        }
        arguments = ctx.args
    }

    let arguments: [ArgValue]
    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] { [.int(c1), .int(c2)] + arguments.dropFirst() }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try lowerConvTranspose2d(b, inputs[0], c1: c1, c2: c2, k: k, s: s, p: p, outputPadding: outputPadding, g: g, d: d, bias: bias)
    }
}

/// `DWConvTranspose2d(c1, c2, k=1, s=1, p1=0, p2=0)`: nn.ConvTranspose2d with groups gcd(c1, c2) and a
/// bias (no BatchNorm, no activation).
public struct DWConvTranspose2dModule: YoloModule {
    public static let names = ["DWConvTranspose2d"]
    public static let arguments = ["c2", "k", "s", "p1", "p2"]
    public static let requiredArguments = 1
    let c1, c2, k, s, p1, p2: Int

    public init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        k = try ctx.int(1, "k", default: 1)
        s = try ctx.int(2, "s", default: 1)
        p1 = try ctx.int(3, "p1", default: 0)
        p2 = try ctx.int(4, "p2", default: 0)
        guard k >= 1, s >= 1, p1 >= 0 else { throw ctx.fail("k and s must be positive and p1 non-negative") }
        guard p2 >= 0, p2 < s else { throw ctx.fail("p2 (output padding) \(p2) must be smaller than the stride \(s)") }
        arguments = ctx.args
    }

    let arguments: [ArgValue]
    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] { [.int(c1), .int(c2)] + arguments.dropFirst() }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try lowerConvTranspose2d(b, inputs[0], c1: c1, c2: c2, k: k, s: s, p: p1, outputPadding: p2, g: gcd(c1, c2), d: 1, bias: true)
    }
}
