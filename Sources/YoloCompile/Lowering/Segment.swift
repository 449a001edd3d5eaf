// YOLOv5's segmentation head (models/yolo.py Segment, models/common.py Proto): Detect with nm mask
// coefficients per anchor, and a mask-prototype branch on the first level. Exported as YOLOv5's
// segmentation export has it: output0 the decoded detections, output1 the prototypes.

/// `Segment(nc, anchors, nm=32, npr=256, ch)`: parse_model width-scales npr
/// (`args[3] = make_divisible(args[3] * gw, 8)`). Outputs (bs, na * cells, 5 + nc + nm) and
/// (bs, nm, 2 * ny0, 2 * nx0).
public struct SegmentModule: MultiOutputHead, DetectionHead {
    public static let names = ["Segment"]
    public static let arguments = ["nc", "anchors", "nm", "npr"]
    public static let requiredArguments = 2
    let a: DetectArguments
    let nm, npr: Int
    let act: Activation

    public init(_ ctx: inout ModuleContext) throws {
        a = try DetectArguments(ctx)
        nm = try ctx.int(2, "nm", default: 32)
        // parse_model: args[3] = make_divisible(args[3] * gw, 8), with no exception for Detect's output count.
        let givenNpr = try ctx.int(3, "npr", default: 256)
        guard nm >= 1, givenNpr >= 1 else { throw ctx.fail("nm and npr must be positive, got \(nm) and \(givenNpr)") }
        npr = makeDivisible(Double(givenNpr) * ctx.config.widthMultiple, 8)
        act = ctx.defaultActivation
    }

    public var outputChannels: Int { (a.nc + 5 + nm) * a.na }
    public var constructorArguments: [ArgValue] { [.int(a.nc), a.anchorsArg, .int(nm), .int(npr), .list(a.ch.map { .int($0) })] }
    func strides(_ b: GraphBuilder, _ inputs: [ValueID]) -> [Float] { a.strides(b, inputs) }

    public func lowerOutputs(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> [ValueID] {
        let proto = try b.scoped("proto") { try lowerProto(b, inputs[0], a.ch[0], npr, nm, act: act) }
        let levels = try inputs.enumerated().map { i, x in
            try b.scoped("m") { try b.scoped(String(i)) {
                try lowerConv2d(b, x, c1: a.ch[i], c2: (a.nc + 5 + nm) * a.na, k: 1, bias: true)
            } }
        }
        let detections = try lowerDetectDecode(b, levels, features: inputs, a, module: "Segment", maskCoefficients: nm)
        return [detections, proto]
    }
}

/// `Proto(c1, c_=256, c2=32)`: Conv 3x3, nearest 2x upsample, Conv 3x3, Conv 1x1 to the nm prototypes.
func lowerProto(_ b: GraphBuilder, _ x: ValueID, _ c1: Int, _ c_: Int, _ c2: Int, act: Activation) throws -> ValueID {
    var y = try lowerConvSubmodule(b, "cv1", x, c1, c_, k: 3, act: act)
    y = try b.scoped("upsample") { try lowerNearestUpsample(b, y, scale: 2) }
    y = try lowerConvSubmodule(b, "cv2", y, c_, c_, k: 3, act: act)
    return try lowerConvSubmodule(b, "cv3", y, c_, c2, act: act)
}
