// ConvNeXt stages as YOLOv5 layers (seed 003): `ConvNeXt_Block [c2, index, in_chans, depths, dims]`.
// The seed's module builds the whole four-stage network in every layer and runs only stage `index`
// (its downsample layer, then its blocks). The other stages are PyTorch parameters all the same: the
// summary counts them as PyTorch does and a state_dict holds them, but they never enter the graph.

/// `ConvNeXt_Block(index, in_chans, depths, dims, drop_path_rate=0., layer_scale_init_value=1e-6)`,
/// with parse_model's `c2 = args[0]; args = args[1:]` (c2 is not width-scaled).
public struct ConvNeXtBlockModule: YoloModule {
    public static let names = ["ConvNeXt_Block"]
    public static let arguments = ["c2", "index", "in_chans", "depths", "dims", "drop_path_rate", "layer_scale_init_value"]
    public static let requiredArguments = 5
    let c2, index, inChans: Int
    let depths, dims: [Int]
    let dropPath: Double?
    let layerScale: Double?

    public init(_ ctx: inout ModuleContext) throws {
        guard ctx.inputChannels.count == 1 else { throw ctx.fail("takes one input, 'from' names \(ctx.inputChannels.count)") }
        c2 = try ctx.int(0, "c2")
        index = try ctx.int(1, "index")
        inChans = try ctx.int(2, "in_chans")
        func list(_ i: Int, _ name: String, least: Int) throws -> [Int] {
            guard case .list(let items)? = ctx.arg(i), items.count == 4 else { throw ctx.fail("\(name) must be a list of 4 integers, got \(ctx.arg(i) ?? .none)") }
            return try items.map { v in
                guard case .int(let n) = v, n >= least, n <= 1 << 16 else {
                    throw ctx.fail("\(name) must hold \(least == 0 ? "non-negative" : "positive") integers, got \(v)")
                }
                return n
            }
        }
        // A depth of 0 is an empty nn.Sequential, the identity, as in PyTorch.
        depths = try list(3, "depths", least: 0)
        dims = try list(4, "dims", least: 1)
        dropPath = ctx.arg(5) == nil ? nil : try ctx.double(5, "drop_path_rate", default: 0)
        layerScale = ctx.arg(6) == nil ? nil : try ctx.double(6, "layer_scale_init_value", default: 1e-6)
        guard (0...3).contains(index) else { throw ctx.fail("index must be 0 to 3 (the stage this layer runs), got \(index)") }
        guard inChans >= 1 else { throw ctx.fail("in_chans must be positive, got \(inChans)") }
        guard c2 == dims[index] else { throw ctx.fail("c2 is \(c2) but stage \(index) outputs dims[\(index)] = \(dims[index]) channels") }
        let expected = index == 0 ? inChans : dims[index - 1]
        guard ctx.c1 == expected else {
            throw ctx.fail("stage \(index) reads \(expected) channels (\(index == 0 ? "in_chans" : "dims[\(index - 1)]")), but its input has \(ctx.c1)")
        }
    }

    /// Blocks have the layer scale `gamma` unless layer_scale_init_value is 0 or less.
    var hasGamma: Bool { (layerScale ?? 1e-6) > 0 }

    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] {
        var a: [ArgValue] = [.int(index), .int(inChans), .list(depths.map { .int($0) }), .list(dims.map { .int($0) })]
        if let dropPath { a.append(.float(dropPath)) }
        if let layerScale { a.append(.float(layerScale)) }
        return a
    }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        var x = inputs[0]
        for i in 0..<4 where i != index { try declareUnusedStage(b, i) }
        x = try b.scoped("downsample_layers") { try b.scoped(String(index)) {
            if index == 0 {
                // stem: Conv2d(in_chans, dims[0], 4, stride 4), LayerNorm channels_first
                let y = try b.scoped("0") { try lowerConv2d(b, x, c1: inChans, c2: dims[0], k: 4, s: 4, bias: true) }
                return try b.scoped("1") { try lowerConvNeXtLayerNorm(b, y, dims[0], channelsFirst: true) }
            }
            let y = try b.scoped("0") { try lowerConvNeXtLayerNorm(b, x, dims[index - 1], channelsFirst: true) }
            return try b.scoped("1") { try lowerConv2d(b, y, c1: dims[index - 1], c2: dims[index], k: 2, s: 2, bias: true) }
        } }
        return try b.scoped("stages") { try b.scoped(String(index)) {
            var y = x
            for j in 0..<depths[index] { y = try b.scoped(String(j)) { try lowerConvNeXtBlock(b, y, dims[index], gamma: hasGamma) } }
            return y
        } }
    }

    /// Stage `i`'s downsample layer and blocks, as names and shapes only.
    func declareUnusedStage(_ b: GraphBuilder, _ i: Int) throws {
        let d = dims[i]
        try b.scoped("downsample_layers") { try b.scoped(String(i)) {
            let (conv, norm, cin) = i == 0 ? ("0", "1", inChans) : ("1", "0", dims[i - 1])
            let k = i == 0 ? 4 : 2
            try b.scoped(conv) {
                try b.unusedParameter("weight", shape: [d, cin, k, k])
                try b.unusedParameter("bias", shape: [d])
            }
            try b.scoped(norm) {
                try b.unusedParameter("weight", shape: [i == 0 ? d : cin])
                try b.unusedParameter("bias", shape: [i == 0 ? d : cin])
            }
        } }
        try b.scoped("stages") { try b.scoped(String(i)) {
            for j in 0..<depths[i] {
                try b.scoped(String(j)) {
                    if hasGamma { try b.unusedParameter("gamma", shape: [d]) }
                    for (name, shape) in [("dwconv.weight", [d, 1, 7, 7]), ("dwconv.bias", [d]), ("norm.weight", [d]), ("norm.bias", [d]),
                                          ("pwconv1.weight", [4 * d, d]), ("pwconv1.bias", [4 * d]),
                                          ("pwconv2.weight", [d, 4 * d]), ("pwconv2.bias", [d])] {
                        try b.unusedParameter(name, shape: shape)
                    }
                }
            }
        } }
    }
}

/// The seed's `Block(dim)`: depthwise 7x7 conv (bias), permute to channels-last, LayerNorm (eps 1e-6),
/// Linear 4x, exact GELU, Linear back, `gamma *`, permute back, residual (drop_path is identity in eval).
func lowerConvNeXtBlock(_ b: GraphBuilder, _ x: ValueID, _ dim: Int, gamma: Bool) throws -> ValueID {
    var y = try b.scoped("dwconv") { try lowerConv2d(b, x, c1: dim, c2: dim, k: 7, p: 3, g: dim, bias: true) }
    y = try b.transpose(y, [0, 2, 3, 1])
    y = try b.scoped("norm") { try lowerConvNeXtLayerNorm(b, y, dim, channelsFirst: false) }
    y = try b.scoped("pwconv1") { try lowerLinear(b, y, dim, 4 * dim) }
    y = try b.scoped("act") { try b.op("Gelu", [y]) }
    y = try b.scoped("pwconv2") { try lowerLinear(b, y, 4 * dim, dim) }
    if gamma {
        // Seeded near 1 rather than the 1e-6 of a fresh model, so that the blocks matter in tests.
        y = try b.op("Mul", [try b.parameter("gamma", shape: [dim], initializer: .range(0.1, 0.5)), y])
    }
    y = try b.transpose(y, [0, 3, 1, 2])
    return try b.op("Add", [x, y])
}

/// The seed's `LayerNorm(c, eps=1e-6, data_format)`. channels_last is F.layer_norm over the last axis:
/// one LayerNormalization. channels_first normalises (N, C, H, W) over C alone, which no
/// LayerNormalization axis expresses without a transpose on either side; it is written as the seed
/// computes it (mean, centred square, mean, sqrt, divide, scale, shift) over axis 1, with no transposes.
func lowerConvNeXtLayerNorm(_ b: GraphBuilder, _ x: ValueID, _ c: Int, channelsFirst: Bool, eps: Float = 1e-6) throws -> ValueID {
    guard channelsFirst else { return try lowerLayerNorm(b, x, c, eps: eps) }
    let w = try b.parameter("weight", shape: [c], initializer: .range(0.5, 1.5))
    let bias = try b.parameter("bias", shape: [c], initializer: .range(-0.25, 0.25))
    let axis = b.constant(ints: [1])
    let u = try b.op("ReduceMean", [x, axis], ["keepdims": .int(1)])
    let d = try b.op("Sub", [x, u])
    let s = try b.op("ReduceMean", [try b.op("Mul", [d, d]), axis], ["keepdims": .int(1)])
    let n = try b.op("Div", [d, try b.op("Sqrt", [try b.op("Add", [s, b.constant(scalar: eps)])])])
    let scaled = try b.op("Mul", [try b.reshape(w, [c, 1, 1]), n])
    return try b.op("Add", [scaled, try b.reshape(bias, [c, 1, 1])])
}
