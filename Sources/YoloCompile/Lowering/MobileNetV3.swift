// MobileNetV3 large and small (seed 002, a from-scratch implementation of the paper) as a
// multi-output backbone: a stem, 15 or 11 inverted residual blocks, a final 1x1 block; `forward`
// keeps the last module output of each channel count it watches. Names are the seed's
// (`model.0.model.3.se.linear1.weight`, `model.0.model.1.depthwise_conv.norm.running_var`).

/// One row of the seed's `configs_dict`: input channels, kernel, expansion size, output channels,
/// squeeze-excite, activation, stride.
struct InverseResidualConfig: Sendable {
    var c1, k, expansion, c2: Int
    var se: Bool
    var act: Activation
    var stride: Int

    init(_ c1: Int, _ k: Int, _ expansion: Int, _ c2: Int, _ se: Bool, _ act: Activation, _ stride: Int) {
        (self.c1, self.k, self.expansion, self.c2, self.se, self.act, self.stride) = (c1, k, expansion, c2, se, act, stride)
    }
}

/// `MobileNetV3(config="large" | "small")`'s tables, final width and watched channel counts.
struct MobileNetV3Variant: Sendable {
    var blocks: [InverseResidualConfig]
    var hidden: Int
    var index: [Int]

    static let small = MobileNetV3Variant(blocks: [
        .init(16, 3, 16, 16, true, .relu, 2), .init(16, 3, 72, 24, false, .relu, 2),
        .init(24, 3, 88, 24, false, .relu, 1), .init(24, 5, 96, 40, true, .hardswish, 2),
        .init(40, 5, 240, 40, true, .hardswish, 1), .init(40, 5, 240, 40, true, .hardswish, 1),
        .init(40, 5, 120, 48, true, .hardswish, 1), .init(48, 5, 144, 48, true, .hardswish, 1),
        .init(48, 5, 288, 96, true, .hardswish, 2), .init(96, 5, 576, 96, true, .hardswish, 1),
        .init(96, 5, 576, 96, true, .hardswish, 1),
    ], hidden: 576, index: [16, 24, 48, 576])

    static let large = MobileNetV3Variant(blocks: [
        .init(16, 3, 16, 16, false, .relu, 1), .init(16, 3, 64, 24, false, .relu, 2),
        .init(24, 3, 72, 24, false, .relu, 1), .init(24, 5, 72, 40, true, .relu, 2),
        .init(40, 5, 120, 40, true, .relu, 1), .init(40, 5, 120, 40, true, .relu, 1),
        .init(40, 3, 240, 80, false, .hardswish, 2), .init(80, 3, 200, 80, false, .hardswish, 1),
        .init(80, 3, 184, 80, false, .hardswish, 1), .init(80, 3, 184, 80, false, .hardswish, 1),
        .init(80, 3, 480, 112, true, .hardswish, 1), .init(112, 3, 672, 112, true, .hardswish, 1),
        .init(112, 5, 672, 160, true, .hardswish, 2), .init(160, 5, 960, 160, true, .hardswish, 1),
        .init(160, 5, 960, 160, true, .hardswish, 1),
    ], hidden: 960, index: [24, 40, 112, 960])
}

/// `MobileNetV3()` in a config: `[]` or `['large']` is the large network, `['small']` the small one.
/// Input channels are the constructor's default 3; the classifier arguments build nothing.
public struct MobileNetV3Module: MultiOutputModule {
    public static let names = ["MobileNetV3"]
    public static let arguments = ["config"]
    let name: String
    let variant: MobileNetV3Variant

    public init(_ ctx: inout ModuleContext) throws {
        switch ctx.arg(0) {
        case nil, .string("large")?: (name, variant) = ("large", .large)
        case .string("small")?: (name, variant) = ("small", .small)
        case let v?: throw ctx.fail("config must be 'large' or 'small', got \(v)")
        }
        guard ctx.inputChannels == [3] else { throw ctx.fail("reads a 3-channel image (input_channel=3), got \(ctx.inputChannels) channels") }
        arguments = ctx.args
    }

    public var featureChannels: [Int] { variant.index }
    /// As the config gives them (the seed's parse_model calls `MobileNetV3()` with none).
    let arguments: [ArgValue]
    public var constructorArguments: [ArgValue] { arguments }

    public func lowerFeatures(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> [ValueID] {
        try b.scoped("model") {
            var results = [ValueID?](repeating: nil, count: variant.index.count)
            var x = inputs[0]
            func keep(_ c: Int) { if let i = variant.index.firstIndex(of: c) { results[i] = x } }
            x = try b.scoped("0") { try lowerConvNormActivation(b, x, 3, 16, k: 3, s: 2, p: 1, act: .hardswish) }
            keep(16)
            for (i, cfg) in variant.blocks.enumerated() {
                x = try b.scoped(String(i + 1)) { try lowerInverseResidual(b, x, cfg) }
                keep(cfg.c2)
            }
            let last = variant.blocks.last?.c2 ?? 16
            x = try b.scoped(String(variant.blocks.count + 1)) { try lowerConvNormActivation(b, x, last, variant.hidden, k: 1, act: .hardswish) }
            keep(variant.hidden)
            return try results.map { r in
                guard let r else { throw ShapeError(layer: b.currentScope, op: "MobileNetV3", message: "a watched channel count never appears") }
                return r
            }
        }
    }
}

/// `ConvNormActivationBlock(c1, c2, k, stride, padding, groups, bias=False, activation)`: conv, norm, activation.
func lowerConvNormActivation(_ b: GraphBuilder, _ x: ValueID, _ c1: Int, _ c2: Int, k: Int, s: Int = 1, p: Int = 0,
                             g: Int = 1, act: Activation) throws -> ValueID
{
    let y = try b.scoped("conv") { try lowerConv2d(b, x, c1: c1, c2: c2, k: k, s: s, p: p, g: g, bias: false) }
    let z = try b.scoped("norm") { try lowerBatchNorm2d(b, y, c: c2) }
    return try act.lower(b, z, scope: "activation")
}

/// `InverseResidualBlock`: expand (skipped when c1 equals the expansion size), depthwise, optional
/// squeeze-excite, project with `conv2` and `norm`; the input added back when stride 1 and c1 == c2.
func lowerInverseResidual(_ b: GraphBuilder, _ x: ValueID, _ c: InverseResidualConfig) throws -> ValueID {
    var y = x
    if c.c1 != c.expansion {
        y = try b.scoped("conv1") { try lowerConvNormActivation(b, y, c.c1, c.expansion, k: 1, act: c.act) }
    }
    y = try b.scoped("depthwise_conv") {
        try lowerConvNormActivation(b, y, c.expansion, c.expansion, k: c.k, s: c.stride, p: c.k / 2, g: c.expansion, act: c.act)
    }
    if c.se { y = try b.scoped("se") { try lowerSqueezeExcitation(b, y, c.expansion) } }
    y = try b.scoped("conv2") { try lowerConv2d(b, y, c1: c.expansion, c2: c.c2, k: 1, bias: false) }
    y = try b.scoped("norm") { try lowerBatchNorm2d(b, y, c: c.c2) }
    return c.c1 == c.c2 && c.stride == 1 ? try b.op("Add", [y, x]) : y
}

/// `SqueezeExitationBlock(c)`: global average pool, flatten, Linear c -> c // 4, ReLU, Linear back,
/// Hardsigmoid (relu6(x + 3) / 6, ONNX's HardSigmoid with alpha 1/6), then `identity * x[:, :, None, None]`.
func lowerSqueezeExcitation(_ b: GraphBuilder, _ x: ValueID, _ c: Int) throws -> ValueID {
    let batch = b.type(x).shape[0]
    let pooled = try b.scoped("pool1") { try b.op("GlobalAveragePool", [x]) }
    var s = try b.op("Flatten", [pooled], ["axis": .int(1)])
    s = try b.scoped("linear1") { try lowerLinear2D(b, s, c, c / 4) }
    s = try b.scoped("act1") { try b.op("Relu", [s]) }
    s = try b.scoped("linear2") { try lowerLinear2D(b, s, c / 4, c) }
    s = try b.scoped("act2") { try b.op("HardSigmoid", [s], ["alpha": .float(1.0 / 6.0), "beta": .float(0.5)]) }
    return try b.op("Mul", [x, try b.reshape(s, [batch, c, 1, 1])])
}
