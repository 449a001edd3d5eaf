// The parameter-free and standalone layers a config can name: Concat, nn.Upsample, nn.BatchNorm2d.

/// `Concat(dimension=1)`: channels are the sum of its inputs'.
public struct ConcatModule: YoloModule {
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

/// `nn.Upsample(size=None, scale_factor=None, mode='nearest')`.
public struct UpsampleModule: YoloModule {
    public static let names = ["nn.Upsample", "Upsample"]
    public static let arguments = ["size", "scale_factor", "mode"]
    let c: Int
    let size: Int?
    let scale: Int?
    let mode: String

    public init(_ ctx: inout ModuleContext) throws {
        c = ctx.c1
        size = ctx.arg(0) == nil || ctx.arg(0) == ArgValue.none ? nil : try ctx.int(0, "size")
        scale = ctx.arg(1) == nil || ctx.arg(1) == ArgValue.none ? nil : try ctx.int(1, "scale_factor")
        switch ctx.arg(2) {
        case nil, .string("nearest")?: mode = "nearest"
        case let v?: throw ctx.fail("only mode 'nearest' is supported, got \(v)")
        }
        guard (size == nil) != (scale == nil) else { throw ctx.fail("give exactly one of size and scale_factor") }
        guard (size ?? 1) >= 1, (scale ?? 1) >= 1 else { throw ctx.fail("size and scale_factor must be positive") }
    }

    public var outputChannels: Int { c }
    public var constructorArguments: [ArgValue] {
        [size.map { .int($0) } ?? .none, scale.map { .int($0) } ?? .none, .string(mode)]
    }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let x = inputs[0]
        if let scale { return try lowerNearestUpsample(b, x, scale: scale) }
        let s = b.type(x).shape
        let side = size ?? s[2]
        return try b.op("Resize", [x, nil, nil, b.constant(ints: [s[0], s[1], side, side])], nearestResize)
    }
}

/// Resize attributes that reproduce PyTorch's 'nearest' interpolation.
let nearestResize: [String: Attribute] = [
    "coordinate_transformation_mode": .string("asymmetric"), "mode": .string("nearest"), "nearest_mode": .string("floor"),
]

/// `nn.Upsample(scale_factor=scale, mode='nearest')`.
func lowerNearestUpsample(_ b: GraphBuilder, _ x: ValueID, scale: Int) throws -> ValueID {
    try b.op("Resize", [x, nil, b.constant(.vector([1, 1, Float(scale), Float(scale)]))], nearestResize)
}

/// `nn.BatchNorm2d(c)` standing alone (eps 1e-3, as YOLOv5's initialize_weights sets it).
public struct BatchNorm2dModule: YoloModule {
    public static let names = ["nn.BatchNorm2d", "BatchNorm2d"]
    public static let arguments: [String] = []
    let c: Int

    public init(_ ctx: inout ModuleContext) throws { c = ctx.c1 }

    public var outputChannels: Int { c }
    public var constructorArguments: [ArgValue] { [.int(c)] }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try lowerBatchNorm2d(b, inputs[0], c: c)
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
