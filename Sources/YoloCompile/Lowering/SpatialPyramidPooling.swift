// YOLOv5's spatial pyramid pooling (models/common.py): SPP and SPPF.

func maxPool(_ b: GraphBuilder, _ x: ValueID, k: Int) throws -> ValueID {
    try b.op("MaxPool", [x], [
        "ceil_mode": .int(0), "dilations": .ints([1, 1]), "kernel_shape": .ints([k, k]),
        "pads": .ints([k / 2, k / 2, k / 2, k / 2]), "strides": .ints([1, 1]),
    ])
}

/// `SPP(c1, c2, k=(5, 9, 13))`.
public struct SPPModule: YoloModule {
    public static let names = ["SPP"]
    public static let arguments = ["c2", "k"]
    public static let requiredArguments = 1
    let c1, c2: Int
    let ks: [Int]
    let act: Activation

    public init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        ks = try sppKernels(ctx, 1)
        act = ctx.defaultActivation
    }

    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] { [.int(c1), .int(c2), .list(ks.map { .int($0) })] }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try lowerSPP(b, inputs[0], c1: c1, c2: c2, ks: ks, act: act)
    }
}

/// SPP's `k` argument (default (5, 9, 13)): odd pool sizes.
func sppKernels(_ ctx: ModuleContext, _ i: Int) throws -> [Int] {
    switch ctx.arg(i) {
    case nil: return [5, 9, 13]
    case .list(let l)?:
        guard !l.isEmpty else { throw ctx.fail("argument k must list at least one kernel size") }
        return try l.map { v in
            guard case .int(let k) = v, k >= 1, k % 2 == 1, k < 1 << 10 else { throw ctx.fail("argument k must list odd kernel sizes, got \(v)") }
            return k
        }
    case let v?: throw ctx.fail("argument k must be a list of kernel sizes like [5, 9, 13], got \(v)")
    }
}

/// `SPP(c1, c2, k)` in the current scope: cv1 to c1 // 2, parallel stride-1 max pools, concat, cv2.
func lowerSPP(_ b: GraphBuilder, _ x: ValueID, c1: Int, c2: Int, ks: [Int], act: Activation) throws -> ValueID {
    let c_ = c1 / 2
    guard c_ >= 1 else { throw ShapeError(layer: b.currentScope, op: "SPP", message: "needs at least 2 input channels, got \(c1)") }
    let y = try lowerConvSubmodule(b, "cv1", x, c1, c_, act: act)
    var parts = [y]
    for (i, k) in ks.enumerated() {
        parts.append(try b.scoped("m") { try b.scoped(String(i)) { try maxPool(b, y, k: k) } })
    }
    let cat = try b.op("Concat", parts, ["axis": .int(1)])
    return try lowerConvSubmodule(b, "cv2", cat, c_ * (ks.count + 1), c2, act: act)
}

/// `C3SPP(c1, c2, k=(5, 9, 13), n=1, shortcut=True, g=1, e=0.5)`: C3 with `m = SPP(c_, c_, k)`.
/// parse_model does not insert `n` for it, so the row's number stacks whole C3SPP modules and the
/// constructor's own n (which only sizes the Bottlenecks SPP replaces) builds nothing.
public struct C3SPPModule: YoloModule {
    public static let names = ["C3SPP"]
    public static let arguments = ["c2", "k", "n", "shortcut", "g", "e"]
    public static let requiredArguments = 1
    let c1, c2: Int
    let ks: [Int]
    let e: Double
    let act: Activation
    let extraArguments: [ArgValue]

    public init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        ks = try sppKernels(ctx, 1)
        _ = try ctx.int(2, "n", default: 1)
        _ = try ctx.bool(3, "shortcut", default: true)
        _ = try ctx.int(4, "g", default: 1)
        e = try ctx.double(5, "e", default: 0.5)
        guard Int(Double(c2) * e) >= 2, e <= 64 else { throw ctx.fail("expansion e = \(e) gives \(Int(Double(c2) * e)) hidden channels; SPP needs at least 2") }
        extraArguments = Array(ctx.args.dropFirst(2))
        act = ctx.defaultActivation
    }

    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] { [.int(c1), .int(c2), .list(ks.map { .int($0) })] + extraArguments }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try lowerC3(b, inputs[0], c1: c1, c2: c2, e: e, act: act) { t, c_ in
            try b.scoped("m") { try lowerSPP(b, t, c1: c_, c2: c_, ks: ks, act: act) }
        }
    }
}

/// `SPPF(c1, c2, k=5)`: SPP with three chained k x k pools (equivalent to SPP(k=(5, 9, 13)), faster).
public struct SPPFModule: YoloModule {
    public static let names = ["SPPF"]
    public static let arguments = ["c2", "k"]
    public static let requiredArguments = 1
    let c1, c2, k: Int
    let act: Activation

    public init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        k = try ctx.int(1, "k", default: 5)
        act = ctx.defaultActivation
    }

    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] { [.int(c1), .int(c2), .int(k)] }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let c_ = c1 / 2
        let x = try lowerConvSubmodule(b, "cv1", inputs[0], c1, c_, act: act)
        let y1 = try b.scoped("m") { try maxPool(b, x, k: k) }
        let y2 = try b.scoped("m") { try maxPool(b, y1, k: k) }
        let y3 = try b.scoped("m") { try maxPool(b, y2, k: k) }
        let cat = try b.op("Concat", [x, y1, y2, y3], ["axis": .int(1)])
        return try lowerConvSubmodule(b, "cv2", cat, c_ * 4, c2, act: act)
    }
}
