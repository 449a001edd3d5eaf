// EfficientViT_M0 to M5 (seed 001, Microsoft's downstream-task code) as a multi-output backbone:
// patch embedding to stride 8, three stages of EfficientViTBlocks (depthwise conv and FFN around
// cascaded group attention in local windows), PatchMerging between stages; outputs at strides 8, 16, 32.
// Parameter names are the seed's (`model.0.blocks1.0.mixer.m.attn.qkvs.0.c.weight`).

/// One EfficientViT variant, as the seed's `EfficientViT_m0` ... `EfficientViT_m5` dicts give it.
struct EfficientViTVariant: Sendable {
    var embedDim: [Int]
    var depth: [Int]
    var numHeads: [Int]
    var windowSize: [Int] = [7, 7, 7]
    var kernels: [Int]
    var keyDim: [Int] = [16, 16, 16]

    static let variants: [String: EfficientViTVariant] = [
        "EfficientViT_M0": .init(embedDim: [64, 128, 192], depth: [1, 2, 3], numHeads: [4, 4, 4], kernels: [7, 5, 3, 3]),
        "EfficientViT_M1": .init(embedDim: [128, 144, 192], depth: [1, 2, 3], numHeads: [2, 3, 3], kernels: [7, 5, 3, 3]),
        "EfficientViT_M2": .init(embedDim: [128, 192, 224], depth: [1, 2, 3], numHeads: [4, 3, 2], kernels: [7, 5, 3, 3]),
        "EfficientViT_M3": .init(embedDim: [128, 240, 320], depth: [1, 2, 3], numHeads: [4, 3, 4], kernels: [5, 5, 5, 5]),
        "EfficientViT_M4": .init(embedDim: [128, 256, 384], depth: [1, 2, 3], numHeads: [4, 4, 4], kernels: [7, 5, 3, 3]),
        "EfficientViT_M5": .init(embedDim: [192, 288, 384], depth: [1, 3, 4], numHeads: [3, 3, 4], kernels: [7, 5, 3, 3]),
    ]
}

/// `EfficientViT_M0()` ... `EfficientViT_M5()`: no arguments; input channels 3 (the constructor's in_chans).
public struct EfficientViTModule: MultiOutputModule {
    public static let names = ["EfficientViT_M0", "EfficientViT_M1", "EfficientViT_M2", "EfficientViT_M3",
                               "EfficientViT_M4", "EfficientViT_M5"]
    public static let arguments: [String] = []
    let variant: EfficientViTVariant

    public init(_ ctx: inout ModuleContext) throws {
        guard let v = EfficientViTVariant.variants[ctx.row.module] else {
            throw ctx.fail("unknown EfficientViT variant")
        }
        guard ctx.inputChannels == [3] else { throw ctx.fail("reads a 3-channel image (in_chans=3), got \(ctx.inputChannels) channels") }
        variant = v
    }

    public var featureChannels: [Int] { variant.embedDim }
    public var constructorArguments: [ArgValue] { [] }

    public func lowerFeatures(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> [ValueID] {
        let e = variant.embedDim
        var x = inputs[0]
        // patch_embed: Conv2d_BN(3, e/8, 3, 2, 1), ReLU, (e/8, e/4, 3, 2, 1), ReLU, (e/4, e/2, 3, 2, 1), ReLU, (e/2, e, 3, 1, 1)
        x = try b.scoped("patch_embed") {
            let widths = [3, e[0] / 8, e[0] / 4, e[0] / 2, e[0]]
            var y = x
            for i in 0..<4 {
                y = try lowerConv2dBN(b, "\(2 * i)", y, widths[i], widths[i + 1], k: 3, s: i < 3 ? 2 : 1, p: 1)
                if i < 3 { y = try b.op("Relu", [y]) }
            }
            return y
        }
        var features: [ValueID] = []
        var blocks: [[EfficientViTStep]] = [[], [], []]
        for i in 0..<3 {
            let ar = Double(e[i]) / Double(variant.keyDim[i] * variant.numHeads[i])
            for _ in 0..<variant.depth[i] {
                blocks[i].append(.block(ed: e[i], kd: variant.keyDim[i], nh: variant.numHeads[i], ar: ar,
                                        window: variant.windowSize[i], kernels: variant.kernels))
            }
            if i < 2 {  // down_ops ['subsample', 2] after stages 1 and 2
                blocks[i + 1].append(.dwFFN(e[i]))
                blocks[i + 1].append(.patchMerging(e[i], e[i + 1]))
                blocks[i + 1].append(.dwFFN(e[i + 1]))
            }
        }
        for i in 0..<3 {
            x = try b.scoped("blocks\(i + 1)") {
                var y = x
                for (j, step) in blocks[i].enumerated() { y = try b.scoped(String(j)) { try step.lower(b, y) } }
                return y
            }
            features.append(x)
        }
        return features
    }
}

/// One entry of an EfficientViT `blocks` Sequential.
enum EfficientViTStep {
    case block(ed: Int, kd: Int, nh: Int, ar: Double, window: Int, kernels: [Int])
    /// `Sequential(Residual(Conv2d_BN dw 3x3), Residual(FFN(c, 2c)))` around a PatchMerging.
    case dwFFN(Int)
    case patchMerging(Int, Int)

    func lower(_ b: GraphBuilder, _ x: ValueID) throws -> ValueID {
        switch self {
        case let .block(ed, kd, nh, ar, window, kernels):
            var y = try residual(b, "dw0", x) { try lowerConv2dBN(b, "m", $0, ed, ed, k: 3, p: 1, g: ed) }
            y = try residual(b, "ffn0", y) { v in try b.scoped("m") { try lowerFFN(b, v, ed, 2 * ed) } }
            y = try residual(b, "mixer", y) { v in
                try b.scoped("m") { try lowerLocalWindowAttention(b, v, dim: ed, keyDim: kd, heads: nh, attnRatio: ar,
                                                                   window: window, kernels: kernels) }
            }
            y = try residual(b, "dw1", y) { try lowerConv2dBN(b, "m", $0, ed, ed, k: 3, p: 1, g: ed) }
            return try residual(b, "ffn1", y) { v in try b.scoped("m") { try lowerFFN(b, v, ed, 2 * ed) } }
        case .dwFFN(let c):
            let y = try residual(b, "0", x) { try lowerConv2dBN(b, "m", $0, c, c, k: 3, p: 1, g: c) }
            return try residual(b, "1", y) { v in try b.scoped("m") { try lowerFFN(b, v, c, 2 * c) } }
        case let .patchMerging(dim, out):
            let hid = 4 * dim
            var y = try b.op("Relu", [try lowerConv2dBN(b, "conv1", x, dim, hid)])
            y = try b.op("Relu", [try lowerConv2dBN(b, "conv2", y, hid, hid, k: 3, s: 2, p: 1, g: hid)])
            y = try b.scoped("se") { try lowerSqueezeExcite(b, y, hid, ratio: 0.25) }
            return try lowerConv2dBN(b, "conv3", y, hid, out)
        }
    }
}

/// `Residual(m)` named `name`: x + m(x) (drop path is training-only).
func residual(_ b: GraphBuilder, _ name: String, _ x: ValueID, _ body: (ValueID) throws -> ValueID) throws -> ValueID {
    try b.scoped(name) { try b.op("Add", [x, try body(x)]) }
}

/// The seed's `Conv2d_BN(a, b, ks, stride, pad, dilation=1, groups)`: `c` (no bias) and `bn`, as
/// submodule `name`. BatchNorm eps is 1e-3: YOLOv5's initialize_weights sets it on every BatchNorm2d.
func lowerConv2dBN(_ b: GraphBuilder, _ name: String, _ x: ValueID, _ c1: Int, _ c2: Int, k: Int = 1, s: Int = 1,
                   p: Int = 0, g: Int = 1) throws -> ValueID
{
    try b.scoped(name) {
        let y = try b.scoped("c") { try lowerConv2d(b, x, c1: c1, c2: c2, k: k, s: s, p: p, g: g, bias: false) }
        return try b.scoped("bn") { try lowerBatchNorm2d(b, y, c: c2) }
    }
}

/// `FFN(ed, h)`: pw1 Conv2d_BN(ed, h), ReLU, pw2 Conv2d_BN(h, ed).
func lowerFFN(_ b: GraphBuilder, _ x: ValueID, _ ed: Int, _ h: Int) throws -> ValueID {
    let y = try b.op("Relu", [try lowerConv2dBN(b, "pw1", x, ed, h)])
    return try lowerConv2dBN(b, "pw2", y, h, ed)
}

/// timm's `SqueezeExcite` (SEModule): global average pool, `fc1` 1x1 conv with bias to
/// make_divisible(c * ratio, 8), ReLU, `fc2` back, sigmoid gate.
func lowerSqueezeExcite(_ b: GraphBuilder, _ x: ValueID, _ c: Int, ratio: Double) throws -> ValueID {
    let rd = timmMakeDivisible(Double(c) * ratio, 8, roundLimit: 0)
    var s = try b.op("GlobalAveragePool", [x])
    s = try b.scoped("fc1") { try lowerConv2d(b, s, c1: c, c2: rd, k: 1, bias: true) }
    s = try b.op("Relu", [s])
    s = try b.scoped("fc2") { try lowerConv2d(b, s, c1: rd, c2: c, k: 1, bias: true) }
    return try b.op("Mul", [x, try b.op("Sigmoid", [s])])
}

/// timm's make_divisible: the nearest multiple of `divisor` (at least `divisor`), bumped up one step
/// when that falls below `roundLimit * v`.
func timmMakeDivisible(_ v: Double, _ divisor: Int, roundLimit: Double = 0.9) -> Int {
    var n = max(divisor, Int(v + Double(divisor) / 2) / divisor * divisor)
    if Double(n) < roundLimit * v { n += divisor }
    return n
}

/// `LocalWindowAttention`: attention over the whole map when it is one window, else zero-pad the
/// bottom and right to whole windows, attend in each (windows become the batch), and crop back.
func lowerLocalWindowAttention(_ b: GraphBuilder, _ x: ValueID, dim: Int, keyDim: Int, heads: Int, attnRatio: Double,
                               window w: Int, kernels: [Int]) throws -> ValueID
{
    let s = b.type(x).shape
    let (n, c, h, wd) = (s[0], s[1], s[2], s[3])
    func attention(_ v: ValueID) throws -> ValueID {
        try b.scoped("attn") { try lowerCascadedGroupAttention(b, v, dim: dim, keyDim: keyDim, heads: heads,
                                                               attnRatio: attnRatio, resolution: w, kernels: kernels) }
    }
    if h <= w && wd <= w {
        guard h == w && wd == w else {
            throw ShapeError(layer: b.currentScope, op: "LocalWindowAttention", message:
                "the \(h)x\(wd) feature map is smaller than the \(w)x\(w) attention window, and the seed's attention bias table fits only a whole window (PyTorch fails here too); use a larger image size")
        }
        return try attention(x)
    }
    let padB = (w - h % w) % w, padR = (w - wd % w) % w
    // The pad (and the window count) depend on the size, so a graph for every size exists only over
    // the sizes that need none: multiples of the window at this map's stride.
    let image = b.type(b.graph.inputs[0]).shape
    b.sizeRequirements.append(SizeRequirement(
        module: "LocalWindowAttention", layer: b.currentScope,
        problem: "pads its \(h)x\(wd) feature map to whole \(w)x\(w) windows, by an amount that depends on the image size",
        multiple: image[2] % h == 0 && image[3] % wd == 0 ? (image[2] / h * w, image[3] / wd * w) : nil, met: true))
    var y = x
    if padB > 0 || padR > 0 {
        y = try b.op("Pad", [y, b.constant(ints: [0, 0, 0, 0, 0, 0, padB, padR])], ["mode": .string("constant")])
    }
    let (nh, nw) = ((h + padB) / w, (wd + padR) / w)
    // (B, C, nH*w, nW*w) -> (B*nH*nW, C, w, w): the seed's permute/view/transpose/reshape, on NCHW.
    y = try b.reshape(y, [n, c, nh, w, nw, w])
    y = try b.transpose(y, [0, 2, 4, 1, 3, 5])
    y = try b.reshape(y, [n * nh * nw, c, w, w])
    y = try attention(y)
    y = try b.reshape(y, [n, nh, nw, c, w, w])
    y = try b.transpose(y, [0, 3, 1, 4, 2, 5])
    y = try b.reshape(y, [n, c, nh * w, nw * w])
    if padB > 0 || padR > 0 {
        y = try b.op("Slice", [y, b.constant(ints: [0, 0]), b.constant(ints: [h, wd]), b.constant(ints: [2, 3])])
    }
    return y
}

/// The seed's attention-bias index table: for every pair of points of a `resolution` x `resolution`
/// window, the index of their (|dy|, |dx|) offset in order of first appearance.
func attentionBiasIndices(resolution r: Int) -> (offsets: Int, idxs: [Int64]) {
    var offsets: [Int: Int] = [:]
    var idxs: [Int64] = []
    let points = (0..<r).flatMap { i in (0..<r).map { (i, $0) } }
    for p1 in points {
        for p2 in points {
            let key = abs(p1.0 - p2.0) * r + abs(p1.1 - p2.1)
            let index = offsets[key] ?? offsets.count
            offsets[key] = index
            idxs.append(Int64(index))
        }
    }
    return (offsets.count, idxs)
}

/// `CascadedGroupAttention`: the input split into one chunk per head; head i reads its chunk plus head
/// i-1's output, projects it to q, k, v (`qkvs.i`), refines q with a depthwise conv (`dws.i`), and
/// attends with the bias table gathered by offset; ReLU and `proj.1` mix the concatenated heads.
func lowerCascadedGroupAttention(_ b: GraphBuilder, _ x: ValueID, dim: Int, keyDim kd: Int, heads nh: Int,
                                 attnRatio: Double, resolution r: Int, kernels: [Int]) throws -> ValueID
{
    let s = b.type(x).shape
    let (n, h, w) = (s[0], s[2], s[3])
    let tokens = h * w
    let d = Int(attnRatio * Double(kd))
    let scale = 1 / Float(kd).squareRoot()
    guard dim % nh == 0, kernels.count >= nh else {
        throw ShapeError(layer: b.currentScope, op: "CascadedGroupAttention", message: "\(dim) channels do not split into \(nh) heads with \(kernels.count) kernels")
    }
    let table = attentionBiasIndices(resolution: r)
    let biases = try b.parameter("attention_biases", shape: [nh, table.offsets], initializer: .range(-0.5, 0.5))
    let idxs = try b.derivedBuffer("attention_bias_idxs", Tensor(shape: [r * r, r * r], ints: table.idxs))
    // ab = attention_biases[:, attention_bias_idxs]: constant folding leaves one (nh, N, N) constant.
    let ab = try b.op("Gather", [biases, idxs], ["axis": .int(1)])
    let chunks = nh == 1 ? [x] : try b.add("Split", [x, b.constant(ints: [Int](repeating: dim / nh, count: nh))],
                                           ["axis": .int(1)], outputs: nh)
    var feat = chunks[0]
    var outs: [ValueID] = []
    for i in 0..<nh {
        if i > 0 { feat = try b.op("Add", [feat, chunks[i]]) }
        feat = try lowerConv2dBN(b, "qkvs.\(i)", feat, dim / nh, 2 * kd + d)
        let qkv = try b.add("Split", [feat, b.constant(ints: [kd, kd, d])], ["axis": .int(1)], outputs: 3)
        var q = try b.scoped("dws") { try lowerConv2dBN(b, String(i), qkv[0], kd, kd, k: kernels[i], p: kernels[i] / 2, g: kd) }
        q = try b.reshape(q, [n, kd, tokens])
        let k = try b.reshape(qkv[1], [n, kd, tokens]), v = try b.reshape(qkv[2], [n, d, tokens])
        // (q^T k) * scale + ab[i]; a power-of-two scale is applied to q, exactly.
        let exact = isPowerOfTwo(scale)
        if exact { q = try b.scale(q, scale) }
        var attn = try b.op("MatMul", [try b.transpose(q, [0, 2, 1]), k])
        if !exact { attn = try b.scale(attn, scale) }
        let abi = try b.op("Slice", [ab, b.constant(ints: [i]), b.constant(ints: [i + 1]), b.constant(ints: [0])])
        attn = try b.op("Add", [attn, abi])
        attn = try b.op("Softmax", [attn], ["axis": .int(-1)])
        let o = try b.op("MatMul", [v, try b.transpose(attn, [0, 2, 1])])
        feat = try b.reshape(o, [n, d, h, w])
        outs.append(feat)
    }
    let cat = nh == 1 ? outs[0] : try b.op("Concat", outs, ["axis": .int(1)])
    return try b.scoped("proj") { try lowerConv2dBN(b, "1", try b.op("Relu", [cat]), d * nh, dim) }
}
