// The tensor layers of YOLOv5's common.py that a config names: Concat, Contract, Expand.

/// `Concat(dimension=1)`: channels are the sum of its inputs'.
public struct ConcatModule: YoloModule {
    public static let acceptsAnyRank = true
    public static let names = ["Concat"]
    public static let arguments = ["dimension"]
    let axis: Int
    let channels: Int

    public init(_ ctx: inout ModuleContext) throws {
        axis = try ctx.int(0, "dimension", default: 1)
        guard axis == 1 else { throw ctx.fail("only channel concatenation (dimension 1) is supported, got \(axis)") }
        channels = ctx.inputChannels.reduce(0, +)
    }

    public var outputChannels: Int { channels }
    public var constructorArguments: [ArgValue] { [.int(axis)] }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        inputs.count == 1 ? inputs[0] : try b.op("Concat", inputs, ["axis": .int(axis)])
    }
}

/// `Contract(gain=2)`: space to depth, (b, c, h, w) -> (b, c * s * s, h / s, w / s) by
/// view(b, c, h/s, s, w/s, s).permute(0, 3, 5, 1, 2, 4). parse_model: c2 = ch[f] * gain ** 2.
public struct ContractModule: YoloModule {
    public static let names = ["Contract"]
    public static let arguments = ["gain"]
    let c, gain: Int

    public init(_ ctx: inout ModuleContext) throws { (c, gain) = (ctx.c1, try spaceDepthGain(ctx)) }

    public var outputChannels: Int { c * gain * gain }
    public var constructorArguments: [ArgValue] { [.int(gain)] }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let x = inputs[0], sh = b.type(x).shape, s = gain
        let (n, h, w) = (sh[0], sh[2], sh[3])
        guard h % s == 0, w % s == 0 else {
            throw ShapeError(layer: b.currentScope, op: "Contract", message: "the \(h)x\(w) feature map does not divide by gain \(s)")
        }
        let v = try b.reshape(x, [n, c, h / s, s, w / s, s])
        return try b.reshape(try b.transpose(v, [0, 3, 5, 1, 2, 4]), [n, c * s * s, h / s, w / s])
    }
}

/// Contract's and Expand's `gain` (default 2).
func spaceDepthGain(_ ctx: ModuleContext) throws -> Int {
    let gain = try ctx.int(0, "gain", default: 2)
    guard gain >= 1, gain <= 64 else { throw ctx.fail("gain must be 1 to 64, got \(gain)") }
    return gain
}

/// `Expand(gain=2)`: depth to space, (b, c, h, w) -> (b, c / s^2, h * s, w * s) by
/// view(b, s, s, c/s^2, h, w).permute(0, 3, 4, 1, 5, 2). parse_model: c2 = ch[f] // gain ** 2.
public struct ExpandModule: YoloModule {
    public static let names = ["Expand"]
    public static let arguments = ["gain"]
    let c, gain: Int

    public init(_ ctx: inout ModuleContext) throws {
        (c, gain) = (ctx.c1, try spaceDepthGain(ctx))
        guard c % (gain * gain) == 0 else { throw ctx.fail("input channels \(c) must be a multiple of gain^2 = \(gain * gain)") }
    }

    public var outputChannels: Int { c / (gain * gain) }
    public var constructorArguments: [ArgValue] { [.int(gain)] }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let x = inputs[0], sh = b.type(x).shape, s = gain
        let (n, h, w) = (sh[0], sh[2], sh[3])
        let v = try b.reshape(x, [n, s, s, c / (s * s), h, w])
        return try b.reshape(try b.transpose(v, [0, 3, 4, 1, 5, 2]), [n, c / (s * s), h * s, w * s])
    }
}
