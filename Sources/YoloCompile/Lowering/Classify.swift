// The classification head, `Classify(c1, c2, k=1, s=1, p=None, g=1)`, in its two parse_models: YOLOv5's
// (no branch for it, so the row's args are the constructor's, and the head returns logits) and
// Ultralytics' (a base module: c1 from `from`, c2 = nc; softmax at inference and export).

/// conv (a Conv to 1280 channels), pool (AdaptiveAvgPool2d(1)), drop (Dropout, skipped at inference),
/// linear (nn.Linear(1280, c2)); inputs are concatenated first when `from` names several.
func lowerClassifyHead(_ b: GraphBuilder, _ inputs: [ValueID], c1: Int, c2: Int, k: Int, s: Int, p: Int?, g: Int,
                       act: Activation, softmax: Bool) throws -> ValueID
{
    let hidden = 1280  // efficientnet_b0's width, as both heads fix it
    let x = inputs.count == 1 ? inputs[0] : try b.op("Concat", inputs, ["axis": .int(1)])
    let y = try lowerConvSubmodule(b, "conv", x, c1, hidden, k: k, s: s, p: autopad(k, p), g: g, act: act)
    let pooled = try b.scoped("pool") { try b.op("Flatten", [try b.op("GlobalAveragePool", [y])], ["axis": .int(1)]) }
    let logits = try b.scoped("linear") { try lowerLinear2D(b, pooled, hidden, c2) }
    return softmax ? try b.op("Softmax", [logits], ["axis": .int(1)]) : logits
}

/// The arguments after c1 and c2 that both heads share: k, s, p, g.
private struct ClassifyWindow {
    var k = 1, s = 1, g = 1
    var p: Int? = nil

    init(_ ctx: ModuleContext, from first: Int) throws {
        k = try ctx.int(first, "k", default: 1)
        s = try ctx.int(first + 1, "s", default: 1)
        p = ctx.arg(first + 2) == nil || ctx.arg(first + 2) == ArgValue.none ? nil : try ctx.int(first + 2, "p")
        g = try ctx.int(first + 3, "g", default: 1)
        guard k >= 1, s >= 1, g >= 1, (p ?? 0) >= 0 else { throw ctx.fail("k, s and g must be positive and p non-negative") }
    }

    var arguments: [ArgValue] { [.int(k), .int(s), p.map { .int($0) } ?? .none, .int(g)] }
}

/// YOLOv5's `Classify` as its v7.0 parse_model builds a row: `Classify(*args)`, so args are
/// `[c1, c2, k, s, p, g]` and c1 must be the input's channels. Its output is the logits.
public struct YOLOv5ClassifyModule: YoloModule {
    public static let names = ["Classify"]
    public static let arguments = ["c1", "c2", "k", "s", "p", "g"]
    public static let requiredArguments = 2
    let c1, c2: Int
    private let window: ClassifyWindow
    let act: Activation
    let given: Int

    public init(_ ctx: inout ModuleContext) throws {
        c1 = try ctx.int(0, "c1")
        c2 = try ctx.int(1, "c2")
        window = try ClassifyWindow(ctx, from: 2)
        act = ctx.defaultActivation
        given = ctx.args.count
        let inputs = ctx.inputChannels.reduce(0, +)
        guard c1 == inputs else {
            throw ctx.fail("c1 is \(c1), but its input has \(inputs) channels (YOLOv5's parse_model passes a Classify row's args unchanged: [c1, c2, k, s, p, g])")
        }
        guard c2 >= 1 else { throw ctx.fail("c2 (the number of classes) must be positive, got \(c2)") }
    }

    /// parse_model's `c2 = ch[f]` for modules it has no branch for.
    public var outputChannels: Int { c1 }
    public var constructorArguments: [ArgValue] { Array(([.int(c1), .int(c2)] + window.arguments).prefix(given)) }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try lowerClassifyHead(b, inputs, c1: c1, c2: c2, k: window.k, s: window.s, p: window.p, g: window.g, act: act, softmax: false)
    }
}

/// Ultralytics' `Classify`: a base module (c1 = ch[f], c2 = args[0], not width-scaled when it is nc),
/// returning class probabilities (softmax) at inference, as its exporter writes them.
public struct UltralyticsClassifyModule: YoloModule {
    public static let names = ["Classify"]
    public static let arguments = ["c2", "k", "s", "p", "g"]
    public static let requiredArguments = 1
    let c1, c2: Int
    private let window: ClassifyWindow
    let act: Activation
    let given: Int

    public init(_ ctx: inout ModuleContext) throws {
        (c1, c2) = try ctx.channelArguments()
        window = try ClassifyWindow(ctx, from: 1)
        act = ctx.defaultActivation
        given = ctx.args.count
    }

    public var outputChannels: Int { c2 }
    public var constructorArguments: [ArgValue] { [.int(c1), .int(c2)] + window.arguments.prefix(given - 1) }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try lowerClassifyHead(b, inputs, c1: c1, c2: c2, k: window.k, s: window.s, p: window.p, g: window.g, act: act, softmax: true)
    }
}
