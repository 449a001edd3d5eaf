import Foundation

/// What Detect, DecoupledDetect and Segment share of their arguments: `nc`, `anchors` (per-level pixel
/// sizes, or a count that parse_model expands to `[list(range(n * 2))] * len(f)`), and `ch`.
struct DetectArguments: Sendable {
    let nc: Int
    let anchors: [[Double]]
    let ch: [Int]
    let anchorsArg: ArgValue
    let probeStrides: [Int]?

    init(_ ctx: ModuleContext) throws {
        probeStrides = ctx.detectStrides
        nc = try ctx.int(0, "nc")
        guard nc >= 1 else { throw ctx.fail("nc must be positive, got \(nc)") }
        ch = ctx.inputChannels
        anchorsArg = ctx.arg(1) ?? .none
        switch ctx.arg(1) {
        case .int(let n)?:
            guard n >= 1, n <= 1000 else { throw ctx.fail("anchors count must be from 1 to 1000, got \(n)") }
            anchors = [[Double]](repeating: (0..<(2 * n)).map(Double.init), count: ch.count)
        case .list(let levels)?:
            anchors = try levels.map { level in
                guard case .list(let items) = level, !items.isEmpty, items.count % 2 == 0 else {
                    throw ctx.fail("each anchors level must be a list of w, h pixel pairs")
                }
                return try items.map { v in
                    guard let d = v.doubleValue else { throw ctx.fail("anchor sizes must be numbers, got \(v)") }
                    return d
                }
            }
        default: throw ctx.fail("argument anchors must be a list of levels or a count, got \(ctx.arg(1) ?? .none)")
        }
        guard anchors.count == ch.count else {
            throw ctx.fail("\(anchors.count) anchor levels but 'from' names \(ch.count) feature maps")
        }
        guard Set(anchors.map(\.count)).count == 1 else { throw ctx.fail("every anchors level needs the same number of anchors") }
    }

    var na: Int { anchors[0].count / 2 }

    func strides(_ b: GraphBuilder, _ inputs: [ValueID]) -> [Float] { levelStrides(b, inputs, probe: probeStrides) }
}

/// Each detection level's stride: the compiler's 256x256 probe (as YOLOv5's and Ultralytics' models
/// measure it), else image height / level height.
func levelStrides(_ b: GraphBuilder, _ inputs: [ValueID], probe: [Int]?) -> [Float] {
    if let p = probe, p.count == inputs.count { return p.map(Float.init) }
    let imageHeight = b.graph.inputs.first.map { b.type($0).shape[2] } ?? 0
    return inputs.map { (Float(imageHeight) / Float(b.type($0).shape[2])).rounded() }
}

/// The inference half of YOLOv5's Detect.forward, shared by every head: given each level's raw
/// (bs, na * no, ny, nx) map, in the current module's scope (which receives the `anchors` buffer),
///
///     y = view(x, bs, na, no, ny, nx).permute(0, 1, 3, 4, 2)
///     xy, wh, conf[, mask] = split(y, (2, 2, nc + 1[, nm]), 4); xy, wh, conf = sigmoid(...)
///     xy = (xy * 2 + grid[i]) * stride[i];  wh = (wh * 2) ** 2 * anchor_grid[i]
///     z[i] = cat(xy, wh, conf[, mask]).view(bs, na * ny * nx, no)
///     output: cat(z, 1)   (batch, anchors x cells, no)
///
/// Detect sigmoids all of y before the split; Segment leaves the mask coefficients raw. The anchor
/// grid is computed from the buffer in the graph (Slice, Mul, Reshape), which constant folding folds.
func lowerDetectDecode(_ b: GraphBuilder, _ levels: [ValueID], features: [ValueID], _ a: DetectArguments,
                       module: String, maskCoefficients nm: Int = 0) throws -> ValueID
{
    let na = a.na, nc = a.nc, no = nc + 5 + nm
    let strides = a.strides(b, features)
    // check_anchor_order: anchors must grow with stride; YOLOv5 flips them when the signs of the
    // area and stride differences disagree (torch.sign, so an equal pair counts as 0).
    var anchors = a.anchors
    let area = anchors.map { l in stride(from: 0, to: l.count, by: 2).map { l[$0] * l[$0 + 1] }.reduce(0, +) / Double(na) }
    func sign(_ v: Double) -> Int { v > 0 ? 1 : v < 0 ? -1 : 0 }
    if let a0 = area.first, let a1 = area.last, let s0 = strides.first, let s1 = strides.last,
       a1 != a0, sign(a1 - a0) != sign(Double(s1 - s0))
    {
        anchors.reverse()
        b.note("\(module) anchors were ordered against the strides \(strides.map { Int($0) }); reversed them, as YOLOv5's check_anchor_order does")
    }
    var scaled: [Float] = []
    for (l, s) in zip(anchors, strides) { scaled += l.map { Float($0) / s } }
    let anchorBuffer = try b.parameter("anchors", shape: [levels.count, na, 2], kind: .buffer,
                                       initializer: .value(Tensor(shape: [levels.count, na, 2], floats: scaled)))
    var outs: [ValueID] = []
    for (i, y) in levels.enumerated() {
        let s = b.type(y).shape
        let (bs, ny, nx) = (s[0], s[2], s[3])
        let v = try b.reshape(y, [bs, na, no, ny, nx])
        let p = try b.transpose(v, [0, 1, 3, 4, 2])
        var parts: [ValueID]
        if nm == 0 {
            parts = try b.add("Split", [try b.op("Sigmoid", [p]), b.constant(ints: [2, 2, nc + 1])], ["axis": .int(4)], outputs: 3)
        } else {
            parts = try b.add("Split", [p, b.constant(ints: [2, 2, nc + 1, nm])], ["axis": .int(4)], outputs: 4)
            for j in 0..<3 { parts[j] = try b.op("Sigmoid", [parts[j]]) }
        }
        // xy = (xy * 2 + grid) * stride, grid = (x - 0.5, y - 0.5)
        try b.reserve(ny * nx * 2, for: "the level \(i) grid")
        var grid = [Float](repeating: 0, count: ny * nx * 2)
        for yy in 0..<ny { for xx in 0..<nx {
            grid[(yy * nx + xx) * 2] = Float(xx) - 0.5
            grid[(yy * nx + xx) * 2 + 1] = Float(yy) - 0.5
        } }
        let two = b.constant(scalar: 2)
        let xy0 = try b.op("Mul", [parts[0], two])
        let xy1 = try b.op("Add", [xy0, b.constant(Tensor(shape: [1, 1, ny, nx, 2], floats: grid))])
        let xy = try b.op("Mul", [xy1, b.constant(scalar: strides[i])])
        // wh = (wh * 2) ** 2 * anchor_grid, anchor_grid = (anchors[i] * stride).view(1, na, 1, 1, 2)
        let wh0 = try b.op("Mul", [parts[1], b.constant(scalar: 2)])
        let wh1 = try b.op("Pow", [wh0, b.constant(scalar: 2)])
        let level = try b.op("Slice", [anchorBuffer, b.constant(ints: [i]), b.constant(ints: [i + 1]), b.constant(ints: [0])])
        let pixels = try b.op("Mul", [level, b.constant(scalar: strides[i])])
        let anchorGrid = try b.reshape(pixels, [1, na, 1, 1, 2])
        let wh = try b.op("Mul", [wh1, anchorGrid])
        let cat = try b.op("Concat", [xy, wh] + parts[2...], ["axis": .int(4)])
        outs.append(try b.reshape(cat, [bs, na * ny * nx, no]))
    }
    return outs.count == 1 ? outs[0] : try b.op("Concat", outs, ["axis": .int(1)])
}

/// `Detect(nc, anchors, ch)` (models/yolo.py) in its inference form: per level a 1x1 conv `m[i]` to
/// na * (nc + 5) channels, then the decode above. Strides come from the compiler's probe. The `anchors`
/// buffer holds the config's pixel anchors divided by each level's stride, as YOLOv5 stores them.
public struct DetectModule: YoloModule, DetectionHead {
    public static let names = ["Detect"]
    public static let arguments = ["nc", "anchors"]
    public static let requiredArguments = 2
    let a: DetectArguments

    public init(_ ctx: inout ModuleContext) throws { a = try DetectArguments(ctx) }

    public var outputChannels: Int { (a.nc + 5) * a.na }
    public var constructorArguments: [ArgValue] { [.int(a.nc), a.anchorsArg, .list(a.ch.map { .int($0) })] }
    func strides(_ b: GraphBuilder, _ inputs: [ValueID]) -> [Float] { a.strides(b, inputs) }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let levels = try inputs.enumerated().map { i, x in
            try b.scoped("m") { try b.scoped(String(i)) {
                try lowerConv2d(b, x, c1: a.ch[i], c2: (a.nc + 5) * a.na, k: 1, bias: true)
            } }
        }
        return try lowerDetectDecode(b, levels, features: inputs, a, module: "Detect")
    }
}
