/// A YOLO block: how `parse_model` turns its row into constructor arguments and output channels,
/// and how one instance lowers into the IR. Adding a block means one file with one such type, and a
/// line in `ModuleRegistry`.
public protocol YoloModule: Sendable {
    /// The names a config may use for it (`Conv`, or `nn.Upsample` and `Upsample`).
    static var names: [String] { get }
    /// The YAML-side arguments, for messages: `["c2", "k", "s", "p", "g", "d", "act"]`.
    static var arguments: [String] { get }
    /// How many of `arguments` are required.
    static var requiredArguments: Int { get }
    /// Whether it reads inputs of any rank (nn.Flatten, nn.Linear, activations); other blocks take 4-D
    /// feature maps, which the lowering checks before calling them.
    static var acceptsAnyRank: Bool { get }

    /// Applies parse_model's rules for this module to the row.
    init(_ ctx: inout ModuleContext) throws
    /// Channels of the output (`c2` in parse_model).
    var outputChannels: Int { get }
    /// The constructor's arguments as parse_model passes them, for the summary.
    var constructorArguments: [ArgValue] { get }
    /// Lowers one instance, reading `inputs` (one per `from` entry).
    func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID
}

extension YoloModule {
    public static var requiredArguments: Int { 0 }
    public static var acceptsAnyRank: Bool { false }
}

/// What a module sees of its row while parse_model's rules are applied.
public struct ModuleContext {
    public let config: ModelConfig
    public let row: LayerRow
    /// The row's number as `from` counts layers (row + 4 after a multi-output backbone).
    public let layer: Int
    /// `ch[f]` for each `from` entry.
    public let inputChannels: [Int]
    /// The row's `number` after the depth gain.
    public let depth: Int
    /// How many times the module is stacked in an nn.Sequential (C3 and friends take `n` as an
    /// argument instead and set this to 1).
    public var repeats: Int
    /// The activation that Conv uses by default (SiLU, or the config's `activation`).
    public let defaultActivation: Activation
    /// Detect's strides from the compiler's probe, when it has them.
    public let detectStrides: [Int]?

    /// Outputs per anchor times anchors: `na * (nc + 5)`, which parse_model never width-scales.
    public var detectOutputs: Int { config.anchorsPerLevel * (config.nc + 5) }

    public func fail(_ message: String) -> ConfigError {
        ConfigError(file: config.file, line: row.line, layer: layer, row: row.index, "\(row.module): \(message)")
    }

    public var args: [ArgValue] { row.args }

    public func arg(_ i: Int) -> ArgValue? { i < row.args.count ? row.args[i] : nil }

    /// Largest magnitude an integer argument may have: larger ones are typos, and would overflow.
    static let argumentLimit = 1 << 20

    /// An integer argument, or `d` when absent or None.
    public func int(_ i: Int, _ name: String, default d: Int? = nil) throws -> Int {
        switch arg(i) {
        case .int(let v)?:
            guard v >= -Self.argumentLimit, v <= Self.argumentLimit else { throw fail("argument \(name) is \(v), out of range (at most \(Self.argumentLimit))") }
            return v
        case nil, .none?:
            guard let d else { throw fail("argument \(name) is required") }
            return d
        case let v?: throw fail("argument \(name) must be an integer, got \(v)")
        }
    }

    public func bool(_ i: Int, _ name: String, default d: Bool) throws -> Bool {
        switch arg(i) {
        case .bool(let v)?: return v
        case .int(let v)? where v == 0 || v == 1: return v == 1
        case nil: return d
        case let v?: throw fail("argument \(name) must be True or False, got \(v)")
        }
    }

    public func double(_ i: Int, _ name: String, default d: Double) throws -> Double {
        guard let a = arg(i) else { return d }
        guard let v = a.doubleValue, v.isFinite, abs(v) <= 1e6 else { throw fail("argument \(name) must be a number of at most 1e6, got \(a)") }
        return v
    }

    /// The single input's channels (modules with one `from`).
    public var c1: Int { inputChannels[0] }

    /// parse_model's width gain. YOLOv5: `make_divisible(c2 * gw, 8)` unless c2 is Detect's output count.
    /// Ultralytics (8.4): `make_divisible(min(c2, max_channels) * width, 8)` for every module but Classify
    /// (8.0 to 8.3 tested `c2 != nc` instead, which also left any layer as wide as nc unscaled).
    public func scaledChannels(_ c2: Int) -> Int {
        switch config.dialect {
        case .yolov5:
            return c2 == detectOutputs ? c2 : makeDivisible(Double(c2) * config.widthMultiple, 8)
        case .ultralytics:
            return row.module == "Classify" ? c2 : makeDivisible(Double(min(c2, config.maxChannels ?? Int.max)) * config.widthMultiple, 8)
        }
    }

    /// The modules parse_model scales: `args = [c1, make_divisible(c2 * gw, 8), *args[1:]]`.
    public func channelArguments() throws -> (c1: Int, c2: Int) {
        guard inputChannels.count == 1 else { throw fail("takes one input, 'from' names \(inputChannels.count)") }
        let c2 = try int(0, "c2")
        guard c2 >= 1 else { throw fail("output channels must be positive, got \(c2)") }
        return (c1, scaledChannels(c2))
    }

    /// The activation argument of Conv-like modules: True (the default), False (none), or a name.
    public func activation(_ i: Int) throws -> Activation {
        switch arg(i) {
        case nil, .bool(true)?: return defaultActivation
        case .bool(false)?: return .identity
        case .string(let s)?:
            guard let a = Activation(pytorch: s) else { throw fail("unknown activation \(s)") }
            return a
        case let v?: throw fail("argument act must be True, False or an activation, got \(v)")
        }
    }
}

/// YOLOv5's make_divisible: the smallest multiple of `divisor` not below `x`.
public func makeDivisible(_ x: Double, _ divisor: Int) -> Int {
    Int((x / Double(divisor)).rounded(.up)) * divisor
}

/// PyTorch's autopad: 'same' padding for odd kernels, with dilation.
public func autopad(_ k: Int, _ p: Int?, dilation d: Int = 1) -> Int {
    if let p { return p }
    let ek = d > 1 ? d * (k - 1) + 1 : k
    return ek / 2
}

/// Every block a config can name, by dialect: the blocks both parse_models know, and those whose
/// name means a different block in each (YOLOv5's anchor-based `Detect`, Ultralytics' anchor-free one).
public enum ModuleRegistry {
    /// Blocks the two parse_models build alike, the seeds' blocks, and the torch.nn layers.
    public static let shared: [any YoloModule.Type] = [
        ConvModule.self, DWConvModule.self, FocusModule.self,
        BottleneckCSPModule.self, C3Module.self,
        SPPModule.self, SPPFModule.self, C3SPPModule.self,
        GhostConvModule.self, GhostBottleneckModule.self, C3GhostModule.self,
        CrossConvModule.self, C3xModule.self, C3TRModule.self, MixConv2dModule.self,
        ConvTranspose2dModule.self, DWConvTranspose2dModule.self,
        ConcatModule.self, ContractModule.self, ExpandModule.self,
        UpsampleModule.self, BatchNorm2dModule.self, MaxPool2dModule.self, AvgPool2dModule.self, AdaptivePool2dModule.self,
        ZeroPad2dModule.self, IdentityModule.self, ActivationModule.self, Conv2dModule.self, LinearModule.self, FlattenModule.self,
        DecoupledDetectModule.self,
        EfficientViTModule.self, MV2BlockModule.self, MobileViTAttentionModule.self,
        MobileNetV3Module.self, ConvNeXtBlockModule.self,
    ]

    /// YOLOv5's models/common.py and yolo.py.
    public static let yolov5: [any YoloModule.Type] = [
        BottleneckModule.self, DetectModule.self, SegmentModule.self, YOLOv5ClassifyModule.self,
    ]

    /// The `ultralytics` package's nn/modules.
    public static let ultralytics: [any YoloModule.Type] = [
        UltralyticsBottleneckModule.self, C2Module.self, C2fModule.self, C3k2Module.self, C2PSAModule.self,
        UltralyticsDetectModule.self, UltralyticsSegmentModule.self, UltralyticsPoseModule.self, UltralyticsOBBModule.self,
        UltralyticsClassifyModule.self,
    ]

    static func table(_ types: [any YoloModule.Type]) -> [String: any YoloModule.Type] {
        var m: [String: any YoloModule.Type] = [:]
        for t in types { for n in t.names { m[n] = t } }
        return m
    }

    static let byName: [ConfigDialect: [String: any YoloModule.Type]] = [
        .yolov5: table(shared + yolov5), .ultralytics: table(shared + ultralytics),
    ]

    public static func lookup(_ name: String, dialect: ConfigDialect = .yolov5) -> (any YoloModule.Type)? {
        let names = byName[dialect] ?? [:]
        return names[name] ?? names[name.hasPrefix("nn.") ? String(name.dropFirst(3)) : "nn." + name]
    }

    /// The names a config of this dialect may use, without the `nn.` spellings of names listed bare.
    public static func knownNames(_ dialect: ConfigDialect = .yolov5) -> [String] {
        let all = Set((shared + (dialect == .yolov5 ? yolov5 : ultralytics)).flatMap { $0.names })
        return all.filter { !($0.hasPrefix("nn.") && all.contains(String($0.dropFirst(3)))) }.sorted()
    }

    /// The dialect that knows `name` when this one does not (for the unknown-module message).
    static func otherDialect(knowing name: String, _ dialect: ConfigDialect) -> ConfigDialect? {
        let other: ConfigDialect = dialect == .yolov5 ? .ultralytics : .yolov5
        return lookup(name, dialect: other) != nil ? other : nil
    }
}
