// YOLOv5's mixed depthwise convolution (models/experimental.py MixConv2d, after MixNet).

/// `MixConv2d(c1, c2, k=(1, 3), s=1, equal_ch=True)`: one grouped nn.Conv2d per kernel size, each
/// making a share of the c2 channels, then `act(bn(cat(...)))` with its own nn.SiLU (not the config's
/// activation). Shares are PyTorch's: equal_ch takes `floor(linspace(0, n - 1e-6, c2))` in float32 and
/// counts each group; otherwise shares are proportional to 1 / k^2 (equal weights per group), rounded.
public struct MixConv2dModule: YoloModule {
    public static let names = ["MixConv2d"]
    public static let arguments = ["c2", "k", "s", "equal_ch"]
    public static let requiredArguments = 1
    let c1, c2, s: Int
    let ks: [Int]
    let equalChannels: Bool
    let shares: [Int]

    public init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        switch ctx.arg(1) {
        case nil: ks = [1, 3]
        case .list(let l)?:
            ks = try l.map { v in
                guard case .int(let k) = v, k >= 1, k < 1 << 10 else { throw ctx.fail("argument k must list positive kernel sizes, got \(v)") }
                return k
            }
        case let v?: throw ctx.fail("argument k must be a list of kernel sizes like [1, 3], got \(v)")
        }
        s = try ctx.int(2, "s", default: 1)
        equalChannels = try ctx.bool(3, "equal_ch", default: true)
        guard !ks.isEmpty, s >= 1 else { throw ctx.fail("needs at least one kernel size and a positive stride") }
        shares = equalChannels ? Self.equalShares(c2, ks.count) : Self.equalWeightShares(c2, ks)
        arguments = ctx.args
        guard shares.allSatisfy({ $0 >= 1 }), shares.reduce(0, +) == c2 else {
            throw ctx.fail("splits \(c2) output channels over kernels \(ks) as \(shares); every kernel needs at least 1 and they must add up to \(c2)")
        }
    }

    /// `torch.linspace(0, n - 1e-6, c2).floor()` in float32 (PyTorch's two-sided linspace), counted per group.
    static func equalShares(_ c2: Int, _ n: Int) -> [Int] {
        let end = Float(Double(n) - 1e-6)
        let step = c2 > 1 ? end / Float(c2 - 1) : 0
        var counts = [Int](repeating: 0, count: n)
        for i in 0..<c2 {
            let v = i < c2 / 2 ? step * Float(i) : end - step * Float(c2 - 1 - i)
            counts[min(max(Int(v.rounded(.down)), 0), n - 1)] += 1
        }
        return counts
    }

    /// The least-squares solution YOLOv5 finds is exact here: c_i proportional to 1 / k_i^2, summing to c2.
    static func equalWeightShares(_ c2: Int, _ ks: [Int]) -> [Int] {
        let inv = ks.map { 1 / Double($0 * $0) }
        let total = inv.reduce(0, +)
        return inv.map { Int((Double(c2) * $0 / total).rounded(.toNearestOrEven)) }
    }

    public var outputChannels: Int { c2 }
    let arguments: [ArgValue]
    public var constructorArguments: [ArgValue] { [.int(c1), .int(c2)] + arguments.dropFirst() }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let x = inputs[0]
        let parts = try b.scoped("m") {
            try zip(ks, shares).enumerated().map { i, kc in
                try b.scoped(String(i)) { try lowerConv2d(b, x, c1: c1, c2: kc.1, k: kc.0, s: s, p: kc.0 / 2, g: gcd(c1, kc.1), bias: false) }
            }
        }
        // Padding k // 2 keeps odd kernels' maps aligned; an even kernel's can come out one larger.
        let maps = parts.map { Array(b.type($0).shape.dropFirst(2)) }
        guard Set(maps).count == 1 else {
            throw ShapeError(layer: b.currentScope, op: "MixConv2d",
                             message: "kernels \(ks) give maps of different sizes (\(maps.map { $0.map(String.init).joined(separator: "x") }.joined(separator: ", "))) with padding k // 2, so they cannot be concatenated (PyTorch fails here too)")
        }
        let cat = parts.count == 1 ? parts[0] : try b.op("Concat", parts, ["axis": .int(1)])
        let y = try b.scoped("bn") { try lowerBatchNorm2d(b, cat, c: c2) }
        return try Activation.silu.lower(b, y)
    }
}
