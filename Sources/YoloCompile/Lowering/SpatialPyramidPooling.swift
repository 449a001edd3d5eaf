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
        switch ctx.arg(1) {
        case nil: ks = [5, 9, 13]
        case .list(let l)?:
            ks = try l.map { v in
                guard case .int(let k) = v, k >= 1, k % 2 == 1 else { throw ctx.fail("argument k must list odd kernel sizes, got \(v)") }
                return k
            }
        case let v?: throw ctx.fail("argument k must be a list of kernel sizes like [5, 9, 13], got \(v)")
        }
        act = ctx.defaultActivation
    }

    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] { [.int(c1), .int(c2), .list(ks.map { .int($0) })] }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let c_ = c1 / 2
        let x = try lowerConvSubmodule(b, "cv1", inputs[0], c1, c_, act: act)
        var parts = [x]
        for (i, k) in ks.enumerated() {
            parts.append(try b.scoped("m") { try b.scoped(String(i)) { try maxPool(b, x, k: k) } })
        }
        let cat = try b.op("Concat", parts, ["axis": .int(1)])
        return try lowerConvSubmodule(b, "cv2", cat, c_ * (ks.count + 1), c2, act: act)
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
