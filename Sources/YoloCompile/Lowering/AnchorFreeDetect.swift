// Ultralytics' anchor-free heads (ultralytics/nn/modules/head.py): Detect with its DFL box decode, and
// Segment, Pose and OBB, which add a branch (cv4) to it; all as the ultralytics package (8.x) exports
// them: (batch, 4 + nc + extra, anchors), boxes as xywh pixels.

/// What Ultralytics' Detect-based heads share: nc, reg_max, the input channels, the box and class
/// branches' widths, and whether the class branch is the legacy (v8) one.
struct AnchorFreeHead: Sendable {
    let nc, regMax: Int
    let ch: [Int]
    /// Detect.legacy: parse_model sets it False once a C3k2, A2C2f or C2fCIB row has been built (YOLO11
    /// and later), which makes cv3 depthwise.
    let legacy: Bool
    let probeStrides: [Int]?

    init(_ ctx: ModuleContext) throws {
        nc = try ctx.int(0, "nc")
        guard nc >= 1 else { throw ctx.fail("nc must be positive, got \(nc)") }
        regMax = ctx.config.regMax
        ch = ctx.inputChannels
        guard !ch.isEmpty, ch.count <= 16 else { throw ctx.fail("'from' must name 1 to 16 feature maps, got \(ch.count)") }
        legacy = !ctx.config.rows.prefix(ctx.row.index).contains { ["C3k2", "A2C2f", "C2fCIB"].contains($0.module) }
        probeStrides = ctx.detectStrides
    }

    /// Box branch width c2 = max(16, ch[0] // 4, reg_max * 4); class branch width c3 = max(ch[0], min(nc, 100)).
    var boxWidth: Int { max(16, ch[0] / 4, regMax * 4) }
    var classWidth: Int { max(ch[0], min(nc, 100)) }
    /// Outputs per anchor before decoding.
    var no: Int { nc + 4 * regMax }

    /// parse_model's printed args (8.4): nc, reg_max, end2end, ch.
    var printedArguments: [ArgValue] { [.int(nc), .int(regMax), .none, .list(ch.map { .int($0) })] }

    func strides(_ b: GraphBuilder, _ inputs: [ValueID]) -> [Float] { levelStrides(b, inputs, probe: probeStrides) }

    /// cv2[i]: Conv(x, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * reg_max, 1). cv3[i]: Conv(x, c3, 3),
    /// Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1); or, not legacy, DWConv(x, x, 3) + Conv(x, c3, 1), DWConv(c3, c3, 3)
    /// + Conv(c3, c3, 1), nn.Conv2d(c3, nc, 1). Returns cat(cv2[i](x), cv3[i](x)) per level.
    func lowerBranches(_ b: GraphBuilder, _ inputs: [ValueID], act: Activation) throws -> [ValueID] {
        let (c2, c3) = (boxWidth, classWidth)
        return try inputs.enumerated().map { i, x in
            let box = try b.scoped("cv2") { try b.scoped(String(i)) {
                let t = try lowerConvSubmodule(b, "0", x, ch[i], c2, k: 3, act: act)
                let u = try lowerConvSubmodule(b, "1", t, c2, c2, k: 3, act: act)
                return try b.scoped("2") { try lowerConv2d(b, u, c1: c2, c2: 4 * regMax, k: 1, bias: true) }
            } }
            let cls = try b.scoped("cv3") { try b.scoped(String(i)) {
                let u: ValueID
                if legacy {
                    let t = try lowerConvSubmodule(b, "0", x, ch[i], c3, k: 3, act: act)
                    u = try lowerConvSubmodule(b, "1", t, c3, c3, k: 3, act: act)
                } else {
                    let t = try b.scoped("0") {
                        let d = try lowerConvSubmodule(b, "0", x, ch[i], ch[i], k: 3, g: ch[i], act: act)
                        return try lowerConvSubmodule(b, "1", d, ch[i], c3, k: 1, act: act)
                    }
                    u = try b.scoped("1") {
                        let d = try lowerConvSubmodule(b, "0", t, c3, c3, k: 3, g: c3, act: act)
                        return try lowerConvSubmodule(b, "1", d, c3, c3, k: 1, act: act)
                    }
                }
                return try b.scoped("2") { try lowerConv2d(b, u, c1: c3, c2: nc, k: 1, bias: true) }
            } }
            return try b.op("Concat", [box, cls], ["axis": .int(1)])
        }
    }

    /// Detect._inference on the per-level maps:
    ///
    ///     x_cat = cat([xi.view(b, no, -1) for xi in x], 2)
    ///     box, cls = x_cat.split((4 * reg_max, nc), 1)
    ///     dbox = dist2bbox(dfl(box), anchors, xywh=True, dim=1) * strides
    ///     return cat((dbox, cls.sigmoid()), 1)                     # (b, 4 + nc, anchors)
    ///
    /// dfl: softmax over reg_max bins, then a 1x1 conv whose weight is arange(reg_max) (a parameter, in
    /// the state_dict as `dfl.conv.weight`). OBB passes its decoded `angle` (b, 1, A): its boxes come from
    /// dist2rbox instead, centres rotated by the angle.
    func lowerDecode(_ b: GraphBuilder, _ levels: [ValueID], grid: AnchorGrid, angle: ValueID? = nil) throws -> ValueID {
        let bs = b.type(levels[0]).shape[0]
        let xcat = try concatLevels(b, levels, channels: no)
        let count = grid.count
        let parts = try b.add("Split", [xcat, b.constant(ints: [4 * regMax, nc])], ["axis": .int(1)], outputs: 2)
        var distances = parts[0]
        if regMax > 1 {
            distances = try b.scoped("dfl") {
                let bins = try b.transpose(try b.reshape(parts[0], [bs, 4, regMax, count]), [0, 2, 1, 3])
                let p = try b.op("Softmax", [bins], ["axis": .int(1)])
                let w = try b.scoped("conv") {
                    try b.parameter("weight", shape: [1, regMax, 1, 1], initializer: .value(Tensor(shape: [1, regMax, 1, 1], floats: (0..<regMax).map(Float.init))))
                }
                let e = try b.op("Conv", [p, w], ["kernel_shape": .ints([1, 1])])
                return try b.reshape(e, [bs, 4, count])
            }
        }
        let ltrb = try b.add("Split", [distances, b.constant(ints: [2, 2])], ["axis": .int(1)], outputs: 2)
        let (lt, rb) = (ltrb[0], ltrb[1])
        let box: ValueID
        if let angle {
            // dist2rbox: xf, yf = ((rb - lt) / 2).split(1); xy = (xf cos - yf sin, xf sin + yf cos) + anchors;
            // cat(xy, lt + rb)
            let (cos, sin) = (try b.op("Cos", [angle]), try b.op("Sin", [angle]))
            let half = try b.op("Div", [try b.op("Sub", [rb, lt]), b.constant(scalar: 2)])
            let f = try b.add("Split", [half, b.constant(ints: [1, 1])], ["axis": .int(1)], outputs: 2)
            let x = try b.op("Sub", [try b.op("Mul", [f[0], cos]), try b.op("Mul", [f[1], sin])])
            let y = try b.op("Add", [try b.op("Mul", [f[0], sin]), try b.op("Mul", [f[1], cos])])
            let xy = try b.op("Add", [try b.op("Concat", [x, y], ["axis": .int(1)]), grid.points])
            box = try b.op("Concat", [xy, try b.op("Add", [lt, rb])], ["axis": .int(1)])
        } else {
            // dist2bbox: x1y1 = anchors - lt; x2y2 = anchors + rb; xywh = ((x1y1 + x2y2) / 2, x2y2 - x1y1)
            let x1y1 = try b.op("Sub", [grid.points, lt])
            let x2y2 = try b.op("Add", [grid.points, rb])
            let centre = try b.op("Div", [try b.op("Add", [x1y1, x2y2]), b.constant(scalar: 2)])
            box = try b.op("Concat", [centre, try b.op("Sub", [x2y2, x1y1])], ["axis": .int(1)])
        }
        let pixels = try b.op("Mul", [box, grid.strides])
        return try b.op("Concat", [pixels, try b.op("Sigmoid", [parts[1]])], ["axis": .int(1)])
    }

    /// The heads' extra branch `name` (cv4: mask coefficients, keypoints or angles): per level
    /// Conv(x, c4, 3), Conv(c4, c4, 3), nn.Conv2d(c4, k, 1), flattened and joined to (b, k, anchors).
    func lowerExtraBranch(_ b: GraphBuilder, _ inputs: [ValueID], name: String, width c4: Int, outputs k: Int,
                          act: Activation) throws -> ValueID
    {
        let levels = try inputs.enumerated().map { i, x in
            try b.scoped(name) { try b.scoped(String(i)) {
                let t = try lowerConvSubmodule(b, "0", x, ch[i], c4, k: 3, act: act)
                let u = try lowerConvSubmodule(b, "1", t, c4, c4, k: 3, act: act)
                return try b.scoped("2") { try lowerConv2d(b, u, c1: c4, c2: k, k: 1, bias: true) }
            } }
        }
        return try concatLevels(b, levels, channels: k)
    }

    /// cat([xi.view(b, c, -1) for xi in x], 2).
    private func concatLevels(_ b: GraphBuilder, _ levels: [ValueID], channels c: Int) throws -> ValueID {
        let bs = b.type(levels[0]).shape[0]
        let flat = try levels.map { x -> ValueID in
            let s = b.type(x).shape
            return try b.reshape(x, [bs, c, s[2] * s[3]])
        }
        return flat.count == 1 ? flat[0] : try b.op("Concat", flat, ["axis": .int(2)])
    }

    /// make_anchors(x, stride, 0.5), transposed as Detect keeps them.
    func anchorGrid(_ b: GraphBuilder, _ features: [ValueID]) throws -> AnchorGrid {
        let sizes = features.map { b.type($0).shape }  // 4-D: ModelLowering checks a head's inputs
        let strides = self.strides(b, features)
        let count = sizes.reduce(0) { $0 + $1[2] * $1[3] }
        try b.reserve(3 * count, for: "the anchor points")
        var xs = [Float](), ys = [Float](), scale = [Float]()
        for (i, s) in sizes.enumerated() {
            for y in 0..<s[2] { for x in 0..<s[3] {
                xs.append(Float(x) + 0.5)
                ys.append(Float(y) + 0.5)
                scale.append(strides[i])
            } }
        }
        return AnchorGrid(count: count, xs: xs, ys: ys,
                          points: b.constant(Tensor(shape: [1, 2, count], floats: xs + ys)),
                          strides: b.constant(Tensor(shape: [1, 1, count], floats: scale)))
    }
}

/// Detect's anchors and strides: cell centres (x + 0.5, y + 0.5) per level, row-major, as (1, 2, A),
/// and each anchor's level stride as (1, 1, A).
struct AnchorGrid {
    let count: Int
    let xs, ys: [Float]
    let points, strides: ValueID
}

/// Ultralytics' `Detect(nc=80, reg_max=16, end2end=False, ch=())`: per level a box branch to 4 * reg_max
/// DFL bins and a class branch to nc logits; the output is (batch, 4 + nc, anchors) with boxes decoded
/// as xywh pixels and class scores sigmoided, as Ultralytics' ONNX export writes it.
public struct UltralyticsDetectModule: YoloModule, DetectionHead {
    public static let names = ["Detect"]
    public static let arguments = ["nc"]
    public static let requiredArguments = 1
    let head: AnchorFreeHead
    let act: Activation

    public init(_ ctx: inout ModuleContext) throws {
        head = try AnchorFreeHead(ctx)
        act = ctx.defaultActivation
    }

    public var outputChannels: Int { head.no }
    public var constructorArguments: [ArgValue] { head.printedArguments }
    func strides(_ b: GraphBuilder, _ inputs: [ValueID]) -> [Float] { head.strides(b, inputs) }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try head.lowerDecode(b, try head.lowerBranches(b, inputs, act: act), grid: try head.anchorGrid(b, inputs))
    }
}

/// Ultralytics' `Segment(nc=80, nm=32, npr=256, reg_max=16, end2end=False, ch=())`: Detect plus nm mask
/// coefficients per anchor (cv4, c4 = max(ch[0] // 4, nm)) and `proto`, a Proto(ch[0], npr, nm) on the
/// first level. parse_model width-scales npr (`make_divisible(min(npr, max_channels) * width, 8)`).
/// Outputs: output0 (b, 4 + nc + nm, anchors), output1 the (b, nm, 2 * h0, 2 * w0) prototypes.
public struct UltralyticsSegmentModule: MultiOutputHead, DetectionHead {
    public static let names = ["Segment"]
    public static let arguments = ["nc", "nm", "npr"]
    public static let requiredArguments = 1
    let head: AnchorFreeHead
    let nm, npr: Int
    let act: Activation

    public init(_ ctx: inout ModuleContext) throws {
        head = try AnchorFreeHead(ctx)
        nm = try ctx.int(1, "nm", default: 32)
        let given = try ctx.int(2, "npr", default: 256)
        guard nm >= 1, given >= 1 else { throw ctx.fail("nm and npr must be positive, got \(nm) and \(given)") }
        npr = makeDivisible(Double(min(given, ctx.config.maxChannels ?? Int.max)) * ctx.config.widthMultiple, 8)
        act = ctx.defaultActivation
    }

    public var outputChannels: Int { head.no + nm }
    public var constructorArguments: [ArgValue] {
        [.int(head.nc), .int(nm), .int(npr)] + head.printedArguments.dropFirst()
    }
    func strides(_ b: GraphBuilder, _ inputs: [ValueID]) -> [Float] { head.strides(b, inputs) }

    public func lowerOutputs(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> [ValueID] {
        let grid = try head.anchorGrid(b, inputs)
        let detections = try head.lowerDecode(b, try head.lowerBranches(b, inputs, act: act), grid: grid)
        let proto = try b.scoped("proto") {
            var y = try lowerConvSubmodule(b, "cv1", inputs[0], head.ch[0], npr, k: 3, act: act)
            y = try b.scoped("upsample") { try lowerConvTranspose2d(b, y, c1: npr, c2: npr, k: 2, s: 2, p: 0, outputPadding: 0, g: 1, d: 1, bias: true) }
            y = try lowerConvSubmodule(b, "cv2", y, npr, npr, k: 3, act: act)
            return try lowerConvSubmodule(b, "cv3", y, npr, nm, act: act)
        }
        let coefficients = try head.lowerExtraBranch(b, inputs, name: "cv4", width: max(head.ch[0] / 4, nm), outputs: nm, act: act)
        return [try b.op("Concat", [detections, coefficients], ["axis": .int(1)]), proto]
    }
}

/// Ultralytics' `Pose(nc=80, kpt_shape=(17, 3), reg_max=16, end2end=False, ch=())`: Detect plus
/// keypoints (cv4, c4 = max(ch[0] // 4, nk)), decoded as its export does:
///
///     y = kpts.view(b, k, ndim, A)
///     a = (y[:, :, :2] * 2.0 + (anchors - 0.5)) * strides; visibility sigmoided when ndim == 3
///     output0: cat(detect, a.view(b, k * ndim, A))            # (b, 4 + nc + k * ndim, anchors)
public struct UltralyticsPoseModule: YoloModule, DetectionHead {
    public static let names = ["Pose"]
    public static let arguments = ["nc", "kpt_shape"]
    public static let requiredArguments = 1
    let head: AnchorFreeHead
    let keypoints, ndim: Int
    let act: Activation

    public init(_ ctx: inout ModuleContext) throws {
        head = try AnchorFreeHead(ctx)
        switch ctx.arg(1) {
        case nil: (keypoints, ndim) = (17, 3)
        case .list(let l)? where l.count == 2:
            (keypoints, ndim) = (try ctx.int(1, "kpt_shape", element: 0), try ctx.int(1, "kpt_shape", element: 1))
        case .string("kpt_shape")?: throw ctx.fail("kpt_shape names no value: the config has no 'kpt_shape:' key, such as kpt_shape: [17, 3]")
        case let v?: throw ctx.fail("kpt_shape must be [keypoints, 2 or 3], got \(v)")
        }
        guard keypoints >= 1, keypoints <= 10_000, ndim == 2 || ndim == 3 else {
            throw ctx.fail("kpt_shape must be [keypoints, 2 or 3], got [\(keypoints), \(ndim)]")
        }
        act = ctx.defaultActivation
    }

    var nk: Int { keypoints * ndim }
    public var outputChannels: Int { head.no + nk }
    public var constructorArguments: [ArgValue] {
        [.int(head.nc), .list([.int(keypoints), .int(ndim)])] + head.printedArguments.dropFirst()
    }
    func strides(_ b: GraphBuilder, _ inputs: [ValueID]) -> [Float] { head.strides(b, inputs) }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let grid = try head.anchorGrid(b, inputs)
        let detections = try head.lowerDecode(b, try head.lowerBranches(b, inputs, act: act), grid: grid)
        let raw = try head.lowerExtraBranch(b, inputs, name: "cv4", width: max(head.ch[0] / 4, nk), outputs: nk, act: act)
        let bs = b.type(raw).shape[0], count = grid.count
        let y = try b.reshape(raw, [bs, keypoints, ndim, count])
        let xy = try b.op("Slice", [y, b.constant(ints: [0]), b.constant(ints: [2]), b.constant(ints: [2])])
        // anchors - 0.5 is the cell's corner: exact in float, as PyTorch computes it.
        let corners = b.constant(Tensor(shape: [2, count], floats: grid.xs.map { $0 - 0.5 } + grid.ys.map { $0 - 0.5 }))
        let scaled = try b.op("Mul", [try b.op("Add", [try b.op("Mul", [xy, b.constant(scalar: 2)]), corners]), grid.strides])
        var decoded = scaled
        if ndim == 3 {
            let v = try b.op("Slice", [y, b.constant(ints: [2]), b.constant(ints: [3]), b.constant(ints: [2])])
            decoded = try b.op("Concat", [scaled, try b.op("Sigmoid", [v])], ["axis": .int(2)])
        }
        return try b.op("Concat", [detections, try b.reshape(decoded, [bs, nk, count])], ["axis": .int(1)])
    }
}

/// Ultralytics' `OBB(nc=80, ne=1, reg_max=16, end2end=False, ch=())`: Detect plus ne angle logits per
/// anchor (cv4, c4 = max(ch[0] // 4, ne)), angle = (sigmoid - 0.25) * pi, boxes rotated by it
/// (dist2rbox). output0: (b, 4 + nc + ne, anchors): xywh, class scores, angle in radians.
public struct UltralyticsOBBModule: YoloModule, DetectionHead {
    public static let names = ["OBB"]
    public static let arguments = ["nc", "ne"]
    public static let requiredArguments = 1
    let head: AnchorFreeHead
    let ne: Int
    let act: Activation

    public init(_ ctx: inout ModuleContext) throws {
        head = try AnchorFreeHead(ctx)
        ne = try ctx.int(1, "ne", default: 1)
        guard ne == 1 else { throw ctx.fail("ne (angles per box) must be 1, as dist2rbox reads one angle; got \(ne)") }
        act = ctx.defaultActivation
    }

    public var outputChannels: Int { head.no + ne }
    public var constructorArguments: [ArgValue] { [.int(head.nc), .int(ne)] + head.printedArguments.dropFirst() }
    func strides(_ b: GraphBuilder, _ inputs: [ValueID]) -> [Float] { head.strides(b, inputs) }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let grid = try head.anchorGrid(b, inputs)
        let logits = try head.lowerExtraBranch(b, inputs, name: "cv4", width: max(head.ch[0] / 4, ne), outputs: ne, act: act)
        let angle = try b.op("Mul", [try b.op("Sub", [try b.op("Sigmoid", [logits]), b.constant(scalar: 0.25)]), b.constant(scalar: Float.pi)])
        let detections = try head.lowerDecode(b, try head.lowerBranches(b, inputs, act: act), grid: grid, angle: angle)
        return try b.op("Concat", [detections, angle], ["axis": .int(1)])
    }
}
