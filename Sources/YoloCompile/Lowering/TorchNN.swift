// The torch.nn layers a config names directly (`nn.MaxPool2d`, `nn.Conv2d`, ...). parse_model evaluates
// them by name and calls them with the row's args as written (no width scaling), and records the
// output channels as `ch[f]`: these types take their arguments in PyTorch's order and defaults.

/// A torch.nn argument that is an int or an (height, width) pair: `kernel_size=3` or `(3, 2)`.
struct IntOrPair: Equatable {
    var h, w: Int
    init(_ h: Int, _ w: Int) { (self.h, self.w) = (h, w) }
    init(_ v: Int) { (h, w) = (v, v) }

    var arg: ArgValue { h == w ? .int(h) : .list([.int(h), .int(w)]) }
}

extension ModuleContext {
    /// An int-or-pair argument, or `d` when absent (or None and `d` is given).
    func intOrPair(_ i: Int, _ name: String, default d: IntOrPair? = nil) throws -> IntOrPair {
        switch arg(i) {
        case nil, .none?:
            guard let d else { throw fail("argument \(name) is required") }
            return d
        case .list(let l)? where l.count == 2:
            guard case .int = l[0], case .int = l[1] else { throw fail("argument \(name) must be an int or a pair of ints, got \(ArgValue.list(l))") }
            return IntOrPair(try int(i, name, element: 0), try int(i, name, element: 1))
        case .list(let l)?: throw fail("argument \(name) must be an int or a pair of ints, got \(ArgValue.list(l))")
        default: return IntOrPair(try int(i, name))
        }
    }

    /// Element `k` of a list argument, range-checked as `int` checks a plain one.
    func int(_ i: Int, _ name: String, element k: Int) throws -> Int {
        guard case .list(let l)? = arg(i), k < l.count, case .int(let v) = l[k] else { throw fail("argument \(name) must be a list of ints") }
        guard v >= -Self.argumentLimit, v <= Self.argumentLimit else { throw fail("argument \(name) holds \(v), out of range (at most \(Self.argumentLimit))") }
        return v
    }

    /// parse_model records `ch[f]` as a torch.nn layer's output channels; one that changes the channel
    /// count would have every later layer built for the wrong count, and PyTorch fails at run time.
    func requireChannelsKept(_ produced: Int, _ what: String) throws {
        guard produced == c1 else {
            throw fail("\(what) makes \(produced) channels, but parse_model records a torch.nn layer's output channels as its input's (\(c1)), so the layers after it would be built for \(c1); use Conv, or keep the channel count")
        }
    }
}

/// `nn.MaxPool2d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False)`.
public struct MaxPool2dModule: YoloModule {
    public static let names = ["nn.MaxPool2d", "MaxPool2d"]
    public static let arguments = ["kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"]
    public static let requiredArguments = 1
    let c: Int
    let window: PoolWindow
    let d: IntOrPair
    let ceil: Bool
    let given: Int
    var k: IntOrPair { window.k }
    var s: IntOrPair { window.s }
    var p: IntOrPair { window.p }

    public init(_ ctx: inout ModuleContext) throws {
        c = ctx.c1
        window = try PoolWindow(ctx)
        d = try ctx.intOrPair(3, "dilation", default: IntOrPair(1))
        guard try !ctx.bool(4, "return_indices", default: false) else { throw ctx.fail("return_indices=True returns a tuple, which no layer after it can read") }
        ceil = try ctx.bool(5, "ceil_mode", default: false)
        try window.check(ctx, dilation: d)
        given = ctx.args.count
    }

    public var outputChannels: Int { c }
    public var constructorArguments: [ArgValue] {
        Array([k.arg, s.arg, p.arg, d.arg, .bool(false), .bool(ceil)].prefix(given))
    }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try b.op("MaxPool", [inputs[0]], [
            "ceil_mode": .int(ceil ? 1 : 0), "dilations": .ints([d.h, d.w]), "kernel_shape": .ints([k.h, k.w]),
            "pads": .ints([p.h, p.w, p.h, p.w]), "strides": .ints([s.h, s.w]),
        ])
    }
}

/// The arguments both pooling layers open with: kernel_size, stride (None: the kernel), padding.
struct PoolWindow {
    let k, s, p: IntOrPair

    init(_ ctx: ModuleContext) throws {
        k = try ctx.intOrPair(0, "kernel_size")
        s = try ctx.intOrPair(1, "stride", default: k)
        p = try ctx.intOrPair(2, "padding", default: IntOrPair(0))
    }

    /// PyTorch's own checks: positive sizes, padding at most half the (dilated) kernel.
    func check(_ ctx: ModuleContext, dilation d: IntOrPair) throws {
        guard k.h >= 1, k.w >= 1, s.h >= 1, s.w >= 1, d.h >= 1, d.w >= 1 else { throw ctx.fail("kernel_size, stride and dilation must be positive") }
        guard p.h >= 0, p.w >= 0, p.h <= (d.h * (k.h - 1) + 1) / 2, p.w <= (d.w * (k.w - 1) + 1) / 2 else {
            throw ctx.fail("padding \(p.arg) must be non-negative and at most half the kernel \(k.arg), as PyTorch requires")
        }
    }
}

/// `nn.AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None)`.
public struct AvgPool2dModule: YoloModule {
    public static let names = ["nn.AvgPool2d", "AvgPool2d"]
    public static let arguments = ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"]
    public static let requiredArguments = 1
    let c: Int
    let window: PoolWindow
    let ceil, includePad: Bool
    let given: Int
    var k: IntOrPair { window.k }
    var s: IntOrPair { window.s }
    var p: IntOrPair { window.p }

    public init(_ ctx: inout ModuleContext) throws {
        c = ctx.c1
        window = try PoolWindow(ctx)
        ceil = try ctx.bool(3, "ceil_mode", default: false)
        includePad = try ctx.bool(4, "count_include_pad", default: true)
        if let v = ctx.arg(5), v != .none { throw ctx.fail("divisor_override is not supported, got \(v)") }
        try window.check(ctx, dilation: IntOrPair(1))
        given = ctx.args.count
    }

    public var outputChannels: Int { c }
    public var constructorArguments: [ArgValue] {
        Array([k.arg, s.arg, p.arg, .bool(ceil), .bool(includePad), .none].prefix(given))
    }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try b.op("AveragePool", [inputs[0]], [
            "ceil_mode": .int(ceil ? 1 : 0), "count_include_pad": .int(includePad ? 1 : 0), "kernel_shape": .ints([k.h, k.w]),
            "pads": .ints([p.h, p.w, p.h, p.w]), "strides": .ints([s.h, s.w]),
        ])
    }
}

/// `nn.AdaptiveAvgPool2d(output_size)` and `nn.AdaptiveMaxPool2d(output_size)`: an int, a pair, or
/// None in a pair for "keep that size".
public struct AdaptivePool2dModule: YoloModule {
    public static let names = ["nn.AdaptiveAvgPool2d", "AdaptiveAvgPool2d", "nn.AdaptiveMaxPool2d", "AdaptiveMaxPool2d"]
    public static let arguments = ["output_size", "return_indices"]
    public static let requiredArguments = 1
    /// Output cells per axis beyond which the general (uneven-window) form is refused: it costs a slice each.
    static let maxUnevenCells = 64
    let c: Int
    let size: (h: Int?, w: Int?)
    let max: Bool

    public init(_ ctx: inout ModuleContext) throws {
        c = ctx.c1
        max = ctx.row.module.hasSuffix("MaxPool2d")
        func side(_ v: ArgValue) throws -> Int? {
            switch v {
            case .none: return nil
            case .int(let n) where n >= 1 && n <= ModuleContext.argumentLimit: return n
            default: throw ctx.fail("output_size must be a positive int, None, or a pair of them, got \(v)")
            }
        }
        switch ctx.arg(0) {
        case .list(let l)? where l.count == 2: size = (try side(l[0]), try side(l[1]))
        case .none?, nil: throw ctx.fail("output_size must be a positive int or a pair (None keeps that side only inside a pair)")
        case let v?: let n = try side(v); size = (n, n)
        }
        if max, try ctx.bool(1, "return_indices", default: false) { throw ctx.fail("return_indices=True returns a tuple, which no layer after it can read") }
        if !max, ctx.arg(1) != nil { throw ctx.fail("takes one argument, output_size") }
    }

    public var outputChannels: Int { c }
    public var constructorArguments: [ArgValue] {
        let a: (Int?) -> ArgValue = { $0.map { .int($0) } ?? .none }
        return [size.h == size.w ? a(size.h) : .list([a(size.h), a(size.w)])]
    }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let x = inputs[0], shape = b.type(x).shape
        let (h, w) = (shape[2], shape[3])
        let (oh, ow) = (size.h ?? h, size.w ?? w)
        if oh == 1 && ow == 1 { return try b.op(max ? "GlobalMaxPool" : "GlobalAveragePool", [x]) }
        if h % oh == 0 && w % ow == 0 {
            let (kh, kw) = (h / oh, w / ow)
            return try b.op(max ? "MaxPool" : "AveragePool", [x], ["kernel_shape": .ints([kh, kw]), "strides": .ints([kh, kw])])
        }
        // Uneven windows: PyTorch's cell i spans [floor(i * n / o), ceil((i + 1) * n / o)). A window is a
        // product of two spans, so reducing rows, then columns, gives the same mean (or max).
        guard oh <= Self.maxUnevenCells, ow <= Self.maxUnevenCells else {
            throw ShapeError(layer: b.currentScope, op: "AdaptivePool2d",
                             message: "output \(oh)x\(ow) does not divide the \(h)x\(w) input, and uneven windows are supported up to \(Self.maxUnevenCells) cells per side")
        }
        let reduce = max ? "ReduceMax" : "ReduceMean"
        func pool(_ v: ValueID, axis: Int, n: Int, o: Int) throws -> ValueID {
            if n == o { return v }
            let cells = try (0..<o).map { i -> ValueID in
                let (start, end) = (i * n / o, ((i + 1) * n + o - 1) / o)
                let s = try b.op("Slice", [v, b.constant(ints: [start]), b.constant(ints: [end]), b.constant(ints: [axis])])
                return try b.op(reduce, [s, b.constant(ints: [axis])], ["keepdims": .int(1)])
            }
            return try b.op("Concat", cells, ["axis": .int(axis)])
        }
        return try pool(try pool(x, axis: 2, n: h, o: oh), axis: 3, n: w, o: ow)
    }
}

/// `nn.ZeroPad2d(padding)`: an int, or (left, right, top, bottom); negative values crop, as in PyTorch.
public struct ZeroPad2dModule: YoloModule {
    public static let names = ["nn.ZeroPad2d", "ZeroPad2d"]
    public static let arguments = ["padding"]
    public static let requiredArguments = 1
    let c: Int
    let pads: [Int]  // left, right, top, bottom

    public init(_ ctx: inout ModuleContext) throws {
        c = ctx.c1
        switch ctx.arg(0) {
        case .list(let l)? where l.count == 4: pads = try (0..<4).map { try ctx.int(0, "padding", element: $0) }
        case .int?: pads = Array(repeating: try ctx.int(0, "padding"), count: 4)
        default: throw ctx.fail("padding must be an int or [left, right, top, bottom], got \(ctx.arg(0).map { "\($0)" } ?? "nothing")")
        }
    }

    public var outputChannels: Int { c }
    public var constructorArguments: [ArgValue] { [.list(pads.map { .int($0) })] }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let (l, r, t, bottom) = (pads[0], pads[1], pads[2], pads[3])
        return try b.op("Pad", [inputs[0], b.constant(ints: [0, 0, t, l, 0, 0, bottom, r])], ["mode": .string("constant")])
    }
}

/// `nn.Identity(*args)`, and `nn.Dropout(p=0.5, inplace=False)` / `nn.Dropout2d`, which inference skips.
public struct IdentityModule: YoloModule {
    public static let acceptsAnyRank = true
    public static let names = ["nn.Identity", "Identity", "nn.Dropout", "Dropout", "nn.Dropout2d", "Dropout2d"]
    /// nn.Identity ignores any arguments; Dropout takes p and inplace.
    public static let arguments = ["p", "inplace", "arg2", "arg3", "arg4", "arg5", "arg6", "arg7"]
    let c: Int
    let args: [ArgValue]

    public init(_ ctx: inout ModuleContext) throws {
        c = ctx.c1
        args = ctx.args
        if ctx.row.module.contains("Dropout") {
            guard ctx.args.count <= 2 else { throw ctx.fail("takes at most 2 args [p, inplace], got \(ctx.args.count)") }
            let p = try ctx.double(0, "p", default: 0.5)
            guard p >= 0, p <= 1 else { throw ctx.fail("dropout probability has to be between 0 and 1, got \(p)") }
            _ = try ctx.bool(1, "inplace", default: false)
        }
    }

    public var outputChannels: Int { c }
    public var constructorArguments: [ArgValue] { args }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID { inputs[0] }
}

/// The activation layers: `nn.ReLU(inplace=False)`, `nn.ReLU6`, `nn.SiLU`, `nn.Hardswish`,
/// `nn.Sigmoid()`, `nn.Tanh()`, `nn.LeakyReLU(negative_slope=0.01, inplace=False)`.
public struct ActivationModule: YoloModule {
    public static let acceptsAnyRank = true
    public static let names = ["nn.ReLU", "ReLU", "nn.ReLU6", "ReLU6", "nn.SiLU", "SiLU", "nn.Hardswish", "Hardswish",
                               "nn.Sigmoid", "Sigmoid", "nn.Tanh", "Tanh", "nn.LeakyReLU", "LeakyReLU"]
    public static let arguments = ["negative_slope or inplace", "inplace"]
    let c: Int
    let act: Activation
    let args: [ArgValue]

    public init(_ ctx: inout ModuleContext) throws {
        c = ctx.c1
        args = ctx.args
        let name = ctx.row.module.hasPrefix("nn.") ? String(ctx.row.module.dropFirst(3)) : ctx.row.module
        switch name {
        case "LeakyReLU":
            let slope = try ctx.double(0, "negative_slope", default: 0.01)
            _ = try ctx.bool(1, "inplace", default: false)
            act = .leakyRelu(Float(slope))
        case "Sigmoid", "Tanh":
            guard ctx.args.isEmpty else { throw ctx.fail("takes no arguments, got \(ctx.args.count)") }
            act = Activation(pytorch: name) ?? .identity
        default:
            guard ctx.args.count <= 1 else { throw ctx.fail("takes at most 1 arg [inplace], got \(ctx.args.count)") }
            _ = try ctx.bool(0, "inplace", default: false)
            guard let a = Activation(pytorch: name) else { throw ctx.fail("unknown activation") }
            act = a
        }
    }

    public var outputChannels: Int { c }
    public var constructorArguments: [ArgValue] { args }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try act.lower(b, inputs[0], scope: nil)
    }
}

/// `nn.Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
/// padding_mode='zeros')`, built from the args as written. Padding may be 'same' or 'valid'.
public struct Conv2dModule: YoloModule {
    public static let names = ["nn.Conv2d", "Conv2d"]
    public static let arguments = ["in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias", "padding_mode"]
    public static let requiredArguments = 3
    let c1, c2, g: Int
    let k, s, d: IntOrPair
    /// Explicit padding per side (top/bottom, left/right), or 'same' as begin and end pads.
    let pads: [Int]?
    let samePadding: Bool
    let bias: Bool
    let args: [ArgValue]

    public init(_ ctx: inout ModuleContext) throws {
        args = ctx.args
        c1 = try ctx.int(0, "in_channels")
        c2 = try ctx.int(1, "out_channels")
        k = try ctx.intOrPair(2, "kernel_size")
        s = try ctx.intOrPair(3, "stride", default: IntOrPair(1))
        d = try ctx.intOrPair(5, "dilation", default: IntOrPair(1))
        g = try ctx.int(6, "groups", default: 1)
        bias = try ctx.bool(7, "bias", default: true)
        switch ctx.arg(8) {
        case nil, .string("zeros")?: break
        case let v?: throw ctx.fail("only padding_mode 'zeros' is supported, got \(v)")
        }
        guard c1 >= 1, c2 >= 1, k.h >= 1, k.w >= 1, s.h >= 1, s.w >= 1, d.h >= 1, d.w >= 1, g >= 1 else {
            throw ctx.fail("channels, kernel_size, stride, dilation and groups must be positive")
        }
        guard c1 % g == 0, c2 % g == 0 else { throw ctx.fail("groups \(g) must divide in_channels \(c1) and out_channels \(c2)") }
        switch ctx.arg(4) {
        case .string("valid")?: (pads, samePadding) = ([0, 0, 0, 0], false)
        case .string("same")?:
            guard s == IntOrPair(1) else { throw ctx.fail("padding='same' is not supported for strided convolutions, as in PyTorch") }
            (pads, samePadding) = (nil, true)
        default:
            let p = try ctx.intOrPair(4, "padding", default: IntOrPair(0))
            guard p.h >= 0, p.w >= 0 else { throw ctx.fail("padding must be non-negative, got \(p.arg)") }
            (pads, samePadding) = ([p.h, p.w, p.h, p.w], false)
        }
        let inputs = ctx.inputChannels.reduce(0, +)
        guard ctx.inputChannels.count == 1 else { throw ctx.fail("takes one input, 'from' names \(ctx.inputChannels.count)") }
        guard c1 == inputs else { throw ctx.fail("in_channels is \(c1), but its input has \(inputs) channels") }
        try ctx.requireChannelsKept(c2, "nn.Conv2d")
    }

    public var outputChannels: Int { c1 }
    public var constructorArguments: [ArgValue] { args }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        // PyTorch's 'same': total padding d * (k - 1), the odd one at the end.
        let p = pads ?? {
            let (th, tw) = (d.h * (k.h - 1), d.w * (k.w - 1))
            return [th / 2, tw / 2, th - th / 2, tw - tw / 2]
        }()
        let fanIn = Float(c1 / g) * Float(k.h) * Float(k.w)
        let bound = 1 / fanIn.squareRoot()
        let w = try b.parameter("weight", shape: [c2, c1 / g, k.h, k.w], initializer: .uniform(bound: bound))
        let bv = bias ? try b.parameter("bias", shape: [c2], initializer: .uniform(bound: bound)) : nil
        return try b.op("Conv", [inputs[0], w, bv], [
            "dilations": .ints([d.h, d.w]), "group": .int(g), "kernel_shape": .ints([k.h, k.w]),
            "pads": .ints(p), "strides": .ints([s.h, s.w]),
        ])
    }
}

/// `nn.Linear(in_features, out_features, bias=True)` on the last axis, as PyTorch applies it (after
/// nn.Flatten that is the features; on a feature map it would be the width).
public struct LinearModule: YoloModule {
    public static let acceptsAnyRank = true
    public static let names = ["nn.Linear", "Linear"]
    public static let arguments = ["in_features", "out_features", "bias"]
    public static let requiredArguments = 2
    let c, cin, cout: Int
    let bias: Bool
    let args: [ArgValue]

    public init(_ ctx: inout ModuleContext) throws {
        c = ctx.c1
        args = ctx.args
        cin = try ctx.int(0, "in_features")
        cout = try ctx.int(1, "out_features")
        bias = try ctx.bool(2, "bias", default: true)
        guard cin >= 1, cout >= 1 else { throw ctx.fail("in_features and out_features must be positive") }
    }

    public var outputChannels: Int { c }
    public var constructorArguments: [ArgValue] { args }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let x = inputs[0], shape = b.type(x).shape
        guard shape.last == cin else {
            throw ShapeError(layer: b.currentScope, op: "Linear", message: "in_features is \(cin), but the input's last axis has \(shape.last ?? 0) (input \(shape)); nn.Linear reads the last axis")
        }
        return shape.count == 2 ? try lowerLinear2D(b, x, cin, cout, bias: bias) : try lowerLinear(b, x, cin, cout, bias: bias)
    }
}

/// `nn.Flatten(start_dim=1, end_dim=-1)`.
public struct FlattenModule: YoloModule {
    public static let acceptsAnyRank = true
    public static let names = ["nn.Flatten", "Flatten"]
    public static let arguments = ["start_dim", "end_dim"]
    let c, start, end: Int
    let given: Int

    public init(_ ctx: inout ModuleContext) throws {
        c = ctx.c1
        start = try ctx.int(0, "start_dim", default: 1)
        end = try ctx.int(1, "end_dim", default: -1)
        given = ctx.args.count
    }

    public var outputChannels: Int { c }
    public var constructorArguments: [ArgValue] { Array([ArgValue.int(start), .int(end)].prefix(given)) }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let x = inputs[0], shape = b.type(x).shape, r = shape.count
        let (s, e) = (start < 0 ? start + r : start, end < 0 ? end + r : end)
        guard s >= 0, s < r, e >= 0, e < r, s <= e else {
            throw ShapeError(layer: b.currentScope, op: "Flatten", message: "start_dim \(start) and end_dim \(end) do not fit a rank-\(r) input")
        }
        if s == e { return x }
        if e == r - 1 && s == 1 { return try b.op("Flatten", [x], ["axis": .int(1)]) }
        let merged = shape[s...e].reduce(1, *)
        return try b.reshape(x, Array(shape[..<s]) + [merged] + Array(shape[(e + 1)...]))
    }
}

/// `nn.Upsample(size=None, scale_factor=None, mode='nearest')`.
public struct UpsampleModule: YoloModule {
    public static let names = ["nn.Upsample", "Upsample"]
    public static let arguments = ["size", "scale_factor", "mode"]
    let c: Int
    let size: Int?
    let scale: Int?
    let mode: String

    public init(_ ctx: inout ModuleContext) throws {
        c = ctx.c1
        size = ctx.arg(0) == nil || ctx.arg(0) == ArgValue.none ? nil : try ctx.int(0, "size")
        scale = ctx.arg(1) == nil || ctx.arg(1) == ArgValue.none ? nil : try ctx.int(1, "scale_factor")
        switch ctx.arg(2) {
        case nil, .string("nearest")?: mode = "nearest"
        case let v?: throw ctx.fail("only mode 'nearest' is supported, got \(v)")
        }
        guard (size == nil) != (scale == nil) else { throw ctx.fail("give exactly one of size and scale_factor") }
        guard (size ?? 1) >= 1, (scale ?? 1) >= 1 else { throw ctx.fail("size and scale_factor must be positive") }
    }

    public var outputChannels: Int { c }
    public var constructorArguments: [ArgValue] {
        [size.map { .int($0) } ?? .none, scale.map { .int($0) } ?? .none, .string(mode)]
    }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        let x = inputs[0]
        if let scale { return try lowerNearestUpsample(b, x, scale: scale) }
        let s = b.type(x).shape
        let side = size ?? s[2]
        return try b.op("Resize", [x, nil, nil, b.constant(ints: [s[0], s[1], side, side])], nearestResize)
    }
}

/// Resize attributes that reproduce PyTorch's 'nearest' interpolation.
let nearestResize: [String: Attribute] = [
    "coordinate_transformation_mode": .string("asymmetric"), "mode": .string("nearest"), "nearest_mode": .string("floor"),
]

/// `nn.Upsample(scale_factor=scale, mode='nearest')`.
func lowerNearestUpsample(_ b: GraphBuilder, _ x: ValueID, scale: Int) throws -> ValueID {
    try b.op("Resize", [x, nil, b.constant(.vector([1, 1, Float(scale), Float(scale)]))], nearestResize)
}

/// `nn.BatchNorm2d(c)` standing alone: parse_model passes `ch[f]` (eps 1e-3, as YOLOv5's
/// initialize_weights sets it).
public struct BatchNorm2dModule: YoloModule {
    public static let names = ["nn.BatchNorm2d", "BatchNorm2d"]
    public static let arguments: [String] = []
    let c: Int

    public init(_ ctx: inout ModuleContext) throws { c = ctx.c1 }

    public var outputChannels: Int { c }
    public var constructorArguments: [ArgValue] { [.int(c)] }

    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        try lowerBatchNorm2d(b, inputs[0], c: c)
    }
}
