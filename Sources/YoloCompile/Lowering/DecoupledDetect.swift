// The YOLOX-style decoupled head of seed 004, which replaced Detect in place there; here it has its
// own name. Per level: BaseConv stems, a classification and a regression branch, and three 1x1
// predictors whose outputs are concatenated (box, conf, labels) and then decoded exactly as Detect.

/// `DecoupledDetect [nc, anchors]` (seed 004's first variant) or `[nc, anchors, False]` (its second,
/// described in words: no `base_conv`, branches at the level's own channels).
///
///     x_feature = base_conv[i](x[i])                       BaseConv 1x1 -> 256   (variant 1 only)
///     cls, reg  = cls_convs[i](x_feature), reg_convs[i](x_feature)   BaseConv 3x3, width w
///     x[i] = cat(m_box[i](reg), m_conf[i](reg), m_labels[i](cls))    4na + na + nc*na channels
///
/// w is 256 with base_conv, else the level's channels. The concatenation is then viewed as
/// (bs, na, 5 + nc, ny, nx) as Detect views its conv, so channel k of anchor a is channel a(5 + nc) + k
/// of the concatenation, box, conf and label channels interleaving across anchors as the seed has them.
public struct DecoupledDetectModule: YoloModule, DetectionHead {
    public static let names = ["DecoupledDetect"]
    public static let arguments = ["nc", "anchors", "base_conv"]
    public static let requiredArguments = 2
    let a: DetectArguments
    let baseConv: Bool
    let act: Activation = .silu  // BaseConv's get_activation("silu"), whatever the config's default

    public init(_ ctx: inout ModuleContext) throws {
        a = try DetectArguments(ctx)
        baseConv = try ctx.bool(2, "base_conv", default: true)
    }

    public var outputChannels: Int { (a.nc + 5) * a.na }
    public var constructorArguments: [ArgValue] {
        [.int(a.nc), a.anchorsArg] + (baseConv ? [] : [.bool(false)]) + [.list(a.ch.map { .int($0) })]
    }
    func strides(_ b: GraphBuilder, _ inputs: [ValueID]) -> [Float] { a.strides(b, inputs) }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let na = a.na
        let levels = try inputs.enumerated().map { i, x in
            let c = baseConv ? 256 : a.ch[i]
            func at<T>(_ name: String, _ body: () throws -> T) throws -> T { try b.scoped(name) { try b.scoped(String(i)) { try body() } } }
            let feature = baseConv ? try at("base_conv") { try lowerBaseConv(b, x, a.ch[i], 256, k: 1, act: act) } : x
            let cls = try at("cls_convs") { try lowerBaseConv(b, feature, c, c, k: 3, act: act) }
            let reg = try at("reg_convs") { try lowerBaseConv(b, feature, c, c, k: 3, act: act) }
            let box = try at("m_box") { try lowerConv2d(b, reg, c1: c, c2: 4 * na, k: 1, bias: true) }
            let conf = try at("m_conf") { try lowerConv2d(b, reg, c1: c, c2: na, k: 1, bias: true) }
            let labels = try at("m_labels") { try lowerConv2d(b, cls, c1: c, c2: a.nc * na, k: 1, bias: true) }
            return try b.op("Concat", [box, conf, labels], ["axis": .int(1)])
        }
        return try lowerDetectDecode(b, levels, features: inputs, a, module: "DecoupledDetect")
    }
}

/// YOLOX's `BaseConv(c1, c2, ksize, stride=1)`: conv (no bias, 'same' padding), bn, act. YOLOv5's
/// own fuse() does not fold it (it is not a `Conv`); FuseConvBatchNorm does. Its BatchNorm has eps 1e-3,
/// not nn.BatchNorm2d's 1e-5: YOLOv5's initialize_weights sets it on every BatchNorm2d in the model.
func lowerBaseConv(_ b: GraphBuilder, _ x: ValueID, _ c1: Int, _ c2: Int, k: Int, s: Int = 1, act: Activation) throws -> ValueID {
    let y = try b.scoped("conv") { try lowerConv2d(b, x, c1: c1, c2: c2, k: k, s: s, p: (k - 1) / 2, bias: false) }
    let z = try b.scoped("bn") { try lowerBatchNorm2d(b, y, c: c2) }
    return try act.lower(b, z)
}
