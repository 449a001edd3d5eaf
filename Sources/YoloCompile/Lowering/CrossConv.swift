// YOLOv5's cross convolution (models/common.py): CrossConv, a 1xk then kx1 Conv pair, and C3x.

/// `CrossConv(c1, c2, k=3, s=1, g=1, e=1.0, shortcut=False)` in the current scope:
/// cv2(cv1(x)) with cv1 = Conv(c1, c_, (1, k), (1, s)), cv2 = Conv(c_, c2, (k, 1), (s, 1), g=g),
/// plus x when shortcut and c1 == c2.
func lowerCrossConv(_ b: GraphBuilder, _ x: ValueID, c1: Int, c2: Int, k: Int = 3, s: Int = 1, g: Int = 1, e: Double = 1.0,
                    shortcut: Bool = false, act: Activation) throws -> ValueID
{
    let c_ = Int(Double(c2) * e)
    let y1 = try b.scoped("cv1") { try lowerConvBNAct(b, x, c1: c1, c2: c_, kernel: (1, k), stride: (1, s), act: act) }
    let y2 = try b.scoped("cv2") { try lowerConvBNAct(b, y1, c1: c_, c2: c2, kernel: (k, 1), stride: (s, 1), g: g, act: act) }
    return shortcut && c1 == c2 ? try b.op("Add", [x, y2]) : y2
}

/// `CrossConv(c1, c2, k=3, s=1, g=1, e=1.0, shortcut=False)` as a layer.
public struct CrossConvModule: YoloModule {
    public static let names = ["CrossConv"]
    public static let arguments = ["c2", "k", "s", "g", "e", "shortcut"]
    public static let requiredArguments = 1
    let c1, c2, k, s, g: Int
    let e: Double
    let shortcut: Bool
    let act: Activation

    public init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        k = try ctx.int(1, "k", default: 3)
        s = try ctx.int(2, "s", default: 1)
        g = try ctx.int(3, "g", default: 1)
        e = try ctx.double(4, "e", default: 1.0)
        shortcut = try ctx.bool(5, "shortcut", default: false)
        guard k >= 1, s >= 1, g >= 1 else { throw ctx.fail("k, s and g must be positive") }
        guard !(shortcut && c1 == c2 && s != 1) else {
            throw ctx.fail("the shortcut adds x to cv2(cv1(x)), so it needs stride 1, got \(s) (PyTorch fails here too)")
        }
        guard Int(Double(c2) * e) >= 1, e <= 64 else { throw ctx.fail("expansion e = \(e) gives \(Int(Double(c2) * e)) hidden channels; needs at least 1") }
        act = ctx.defaultActivation
        arguments = ctx.args
    }

    let arguments: [ArgValue]
    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] { [.int(c1), .int(c2)] + arguments.dropFirst() }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try lowerCrossConv(b, inputs[0], c1: c1, c2: c2, k: k, s: s, g: g, e: e, shortcut: shortcut, act: act)
    }
}

/// `C3x(c1, c2, n=1, shortcut=True, g=1, e=0.5)`: C3 with `m = Sequential(CrossConv(c_, c_, 3, 1, g, 1.0, shortcut) x n)`.
public struct C3xModule: C3Variant {
    public static let names = ["C3x"]
    let a: CSPArguments
    let act: Activation

    init(_ a: CSPArguments, act: Activation, _ ctx: ModuleContext) { (self.a, self.act) = (a, act) }

    func lowerM(_ b: GraphBuilder, _ t: ValueID, _ c_: Int) throws -> ValueID {
        var y = t
        for i in 0..<a.n {
            y = try b.scoped(String(i)) { try lowerCrossConv(b, y, c1: c_, c2: c_, k: 3, s: 1, g: a.g, e: 1.0, shortcut: a.shortcut, act: act) }
        }
        return y
    }
}
