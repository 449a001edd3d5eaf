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
