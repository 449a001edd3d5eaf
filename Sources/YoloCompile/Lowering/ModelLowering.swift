/// What a compile needs besides the config.
public struct CompileOptions: Sendable {
    public var imageHeight: Int = 640
    public var imageWidth: Int = 640
    public var batch: Int = 1
    public var seed: UInt64 = 0
    /// Detect's strides, as YOLOv5 measures them with a 256x256 probe (`Compiler` sets them);
    /// nil takes image size / feature-map size.
    public var detectStrides: [Int]? = nil

    public init(imageHeight: Int = 640, imageWidth: Int = 640, batch: Int = 1, seed: UInt64 = 0) {
        self.imageHeight = imageHeight
        self.imageWidth = imageWidth
        self.batch = batch
        self.seed = seed
    }
}

/// One row of the lowered model, for `summary`.
public struct LayerInfo: Sendable {
    public var index: Int
    public var from: String
    public var number: Int
    public var module: String
    public var arguments: [ArgValue]
    public var parameters: Int
    public var outputShape: [Int]
}

/// A config lowered to the IR, with what the summary and exporter need to know about it.
public struct LoweredModel: Sendable {
    public var graph: Graph
    public var layers: [LayerInfo]
    public var strides: [Int]
    /// What the compiler decided on the user's behalf (an anchor flip, say), to print.
    public var notes: [String]
}

/// parse_model: walks the rows, applies the depth and width gains, checks `from`, and lowers each
/// layer into one graph. Shape errors come back naming the file, the row's line and the layer.
public enum ModelLowering {
    public static func lower(_ config: ModelConfig, options: CompileOptions = CompileOptions(),
                             parameters: (any ParameterSource)? = nil) throws -> LoweredModel
    {
        let source = parameters ?? SeededParameters(seed: options.seed)
        let name = ((config.file as NSString).lastPathComponent as NSString).deletingPathExtension
        let b = GraphBuilder(name: name, parameters: source)
        let image = b.input("images", TensorType(.float32, [options.batch, config.inputChannels, options.imageHeight, options.imageWidth]))
        let defaultActivation: Activation
        if let a = config.activation {
            guard let act = Activation(pytorch: a) else {
                throw ConfigError(file: config.file, line: config.activationLine,
                                  "unknown activation '\(a)' (expected one of nn.SiLU(), nn.ReLU(), nn.ReLU6(), nn.LeakyReLU(0.1), nn.Hardswish(), nn.Sigmoid(), nn.Tanh(), nn.Identity())")
            }
            defaultActivation = act
        } else {
            defaultActivation = .silu
        }

        var outputs: [ValueID] = []
        var channels: [Int] = []
        var layers: [LayerInfo] = []
        var strides: [Int] = []
        for row in config.rows {
            let i = row.index
            func fail(_ m: String) -> ConfigError { ConfigError(file: config.file, line: row.line, layer: i, m) }
            guard let type = ModuleRegistry.lookup(row.module) else {
                throw fail("unknown module '\(row.module)' (known: \(ModuleRegistry.knownNames.joined(separator: ", ")))")
            }
            guard row.args.count <= type.arguments.count else {
                throw fail("\(row.module) takes at most \(type.arguments.count) args [\(type.arguments.joined(separator: ", "))], got \(row.args.count)")
            }
            guard row.args.count >= type.requiredArguments else {
                throw fail("\(row.module) needs args [\(type.arguments.prefix(type.requiredArguments).joined(separator: ", "))], got \(row.args.count)")
            }
            // Resolve `from`: -1 is the previous layer (the image for layer 0), other negatives count back.
            var sources: [ValueID] = []
            var inputChannels: [Int] = []
            for f in row.from {
                let j = f < 0 ? i + f : f
                if j >= i { throw fail("'from' \(f) points forward: layer \(i) can only read earlier layers") }
                if j == -1 && i == 0 {
                    sources.append(image)
                    inputChannels.append(config.inputChannels)
                } else if j < 0 {
                    throw fail("'from' \(f) points before layer 0")
                } else {
                    sources.append(outputs[j])
                    inputChannels.append(channels[j])
                }
            }
            let depth = row.number > 1 ? max(Int((Double(row.number) * config.depthMultiple).rounded(.toNearestOrEven)), 1) : row.number
            var ctx = ModuleContext(config: config, row: row, inputChannels: inputChannels, depth: depth,
                                    repeats: depth, defaultActivation: defaultActivation, detectStrides: options.detectStrides)
            let module = try type.init(&ctx)
            if ctx.repeats > 1 && sources.count > 1 { throw fail("\(row.module) with several inputs cannot be repeated") }

            let before = b.graph.constantOrder.count
            let y: ValueID
            do {
                y = try b.scoped("model.\(i)") {
                    if ctx.repeats == 1 { return try module.lower(b, sources) }
                    var v = sources[0]
                    for r in 0..<ctx.repeats { v = try b.scoped(String(r)) { try module.lower(b, [v]) } }
                    return v
                }
            } catch let e as ShapeError {
                throw fail("\(row.module): \(e.message)")
            }
            if let detect = module as? DetectModule { strides = detect.strides(b, sources).map { Int($0) } }
            let params = b.graph.constantOrder[before...].reduce(0) { n, v in
                guard let c = b.graph.constants[v], c.kind == .parameter else { return n }
                return n + c.tensor.count
            }
            outputs.append(y)
            channels.append(module.outputChannels)
            layers.append(LayerInfo(index: i, from: row.fromDescription, number: depth, module: row.module,
                                    arguments: module.constructorArguments, parameters: params, outputShape: b.type(y).shape))
        }
        guard let last = outputs.last else {
            throw ConfigError(file: config.file, line: nil, "backbone and head hold no layers")
        }
        b.output(last, name: "output0")
        let stride = strides.max() ?? 32
        let names = config.names ?? (0..<config.nc).map(String.init)
        b.setMetadata("stride", String(stride))
        b.setMetadata("names", "{" + names.enumerated().map { "\($0.offset): '\($0.element)'" }.joined(separator: ", ") + "}")
        return LoweredModel(graph: b.finish(), layers: layers, strides: strides, notes: b.notes)
    }
}

import Foundation
