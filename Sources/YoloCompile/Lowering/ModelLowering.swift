/// What a compile needs besides the config.
public struct CompileOptions: Sendable {
    public var imageHeight: Int = 640
    public var imageWidth: Int = 640
    public var batch: Int = 1
    public var seed: UInt64 = 0
    /// Detect's strides, as YOLOv5 measures them with a 256x256 probe (`Compiler` sets them);
    /// nil takes image size / feature-map size.
    public var detectStrides: [Int]? = nil
    /// Lower even when a layer's size requirement is unmet (a stand-in keeps the shapes): the stride
    /// probe needs only shapes, and YOLOv5's 256 probe may not suit a patch size.
    public var allowUnmetSizeRequirements = false
    /// Accept trained weights holding NaN or infinities (refused by default, naming the first tensor).
    public var allowNonFiniteWeights = false
    /// The scale of an Ultralytics config (`--scale`); nil takes the file name's, as Ultralytics does.
    public var scale: String? = nil

    public init(imageHeight: Int = 640, imageWidth: Int = 640, batch: Int = 1, seed: UInt64 = 0) {
        self.imageHeight = imageHeight
        self.imageWidth = imageWidth
        self.batch = batch
        self.seed = seed
    }
}

/// One row of the lowered model, for `summary`.
public struct LayerInfo: Sendable {
    /// The row's position in backbone + head (the state_dict's `model.N`).
    public var index: Int
    /// The layer number `from` uses: the row index, plus 4 after a multi-output backbone.
    public var layer: Int
    public var from: String
    public var number: Int
    public var module: String
    public var arguments: [ArgValue]
    public var parameters: Int
    /// Parameters PyTorch's module holds beyond `parameters`, which its forward never uses.
    public var unusedParameters: Int = 0
    public var outputShape: [Int]
    /// A multi-output backbone's feature-map shapes, in slot order.
    public var featureShapes: [[Int]] = []
}

/// A config lowered to the IR, with what the summary and exporter need to know about it.
public struct LoweredModel: Sendable {
    public var graph: Graph
    public var layers: [LayerInfo]
    public var strides: [Int]
    /// What the compiler decided on the user's behalf (an anchor flip, say), to print.
    public var notes: [String]
    /// Parameters after YOLOv5's own fuse(), which folds only the BatchNorms of `Conv` modules.
    public var yolov5FusedParameters: Int = 0
    /// Parameters the PyTorch model holds that no forward pass uses (not in `graph`).
    public var unusedParameters: [DeclaredTensor] = []
    /// What layers need of the image size (met at this size, or the export would have failed), for
    /// `--dynamic`, whose graph must be the same at every size it accepts.
    public var sizeRequirements: [SizeRequirement] = []

    /// Parameters as PyTorch counts them: the graph's plus the unused ones.
    public var pytorchParameters: Int { graph.constantElementCount(kinds: [.parameter]) + unusedParameters.reduce(0) { $0 + $1.count } }
}

/// parse_model: walks the rows, applies the depth and width gains, checks `from`, and lowers each
/// layer into one graph. Shape errors come back naming the file, the row's line and the layer.
public enum ModelLowering {
    public static func lower(_ config: ModelConfig, options: CompileOptions = CompileOptions(),
                             parameters: (any ParameterSource)? = nil) throws -> LoweredModel
    {
        let source = parameters ?? SeededParameters(seed: options.seed)
        let b = GraphBuilder(name: config.name, parameters: source)
        if config.isUltralyticsClassifier {
            b.batchNormEpsilon = 1e-5
            b.note("BatchNorm eps 1e-5 where the weights do not record it: Ultralytics' ClassificationModel skips initialize_weights, which sets 1e-3")
        }
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

        // Layer slots as `from` numbers them. A multi-output backbone in row 0 fills slots 0-4 with its
        // feature maps, right-aligned, and every later row's layer index is its row index + 4 (the
        // convention of the seeds' changed parse_model); otherwise layer index = row index.
        var outputs: [ValueID?] = []
        var channels: [Int] = []
        var layerOffset = 0
        var layers: [LayerInfo] = []
        var strides: [Int] = []
        var requirementRows: [(row: LayerRow, layer: Int)] = []
        var last: ValueID? = nil
        var headOutputs: [ValueID]? = nil
        // Every module is looked up before any is built: a config that needs a block we lack is refused
        // naming it, not for the arguments of a known block whose signature changed in the same release.
        let backboneFirst = config.rows.first.flatMap { ModuleRegistry.lookup($0.module, dialect: config.dialect) } is any MultiOutputModule.Type
        let types = try config.rows.map { try moduleType($0, layer: $0.index + (backboneFirst && $0.index > 0 ? 4 : 0), config) }
        for row in config.rows {
            let i = row.index
            let layer = i + layerOffset
            func fail(_ m: String) -> ConfigError { ConfigError(file: config.file, line: row.line, layer: layer, row: i, m) }
            let type = types[i]
            if config.dialect == .ultralytics, row.args.contains(.string("anchors")) {
                throw fail("'anchors' names no value: this config has no 'anchors:' key, so it is read as an Ultralytics config, whose heads are anchor-free; add 'anchors:' to read it as YOLOv5's")
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
                let j = f < 0 ? layer + f : f
                if j >= layer { throw fail("'from' \(f) points forward: layer \(layer) can only read earlier layers") }
                if j == -1 && i == 0 {
                    sources.append(image)
                    inputChannels.append(config.inputChannels)
                } else if j < 0 {
                    throw fail("'from' \(f) points before layer 0")
                } else if let v = outputs[j] {
                    sources.append(v)
                    inputChannels.append(channels[j])
                } else {
                    let filled = outputs.firstIndex { $0 != nil } ?? 0
                    throw fail("'from' \(f) names layer \(j), an empty slot: the backbone in row 0 fills layers \(filled) to 4")
                }
            }
            if !type.acceptsAnyRank, let v = sources.first(where: { b.type($0).shape.count != 4 }) {
                throw fail("\(row.module) takes 4-D feature maps (batch, channels, height, width), but its input is \(b.type(v).shape)")
            }
            if type is any MultiOutputHead.Type && i != config.rows.count - 1 {
                throw fail("\(row.module) returns the model's outputs (detections and mask prototypes), so it must be the last row")
            }
            if type is any MultiOutputModule.Type && i != 0 {
                throw fail("\(row.module) returns several feature maps, so it must be the first row (layers 0 to 4 hold its outputs)")
            }
            let depth = row.number > 1 ? max(Int((Double(row.number) * config.depthMultiple).rounded(.toNearestOrEven)), 1) : row.number
            var ctx = ModuleContext(config: config, row: row, layer: layer, inputChannels: inputChannels, depth: depth,
                                    repeats: depth, defaultActivation: defaultActivation, detectStrides: options.detectStrides)
            let module = try type.init(&ctx)
            if ctx.repeats > 1 && sources.count > 1 { throw fail("\(row.module) with several inputs cannot be repeated") }
            let backbone = module as? any MultiOutputModule
            if backbone != nil || module is any MultiOutputHead {
                guard ctx.repeats == 1 else { throw fail("\(row.module) returns \(backbone != nil ? "several feature maps" : "the model's outputs") and cannot be repeated (number must be 1)") }
            }
            // nn.Sequential(*[m(*args) for _ in range(n)]): every copy is built for the first one's c1.
            if ctx.repeats > 1, let c1 = inputChannels.first, module.outputChannels != c1 {
                throw fail("\(row.module) is repeated \(ctx.repeats) times as copies built alike, so copy 2 would receive the \(module.outputChannels) channels copy 1 makes where it expects \(c1); repeat it only where input and output channels are equal")
            }

            let before = b.graph.constantOrder.count
            let unusedBefore = b.unusedParameters.count
            let requirementsBefore = b.sizeRequirements.count
            let ys: [ValueID]
            do {
                ys = try b.scoped("model.\(i)") {
                    if let backbone { return try backbone.lowerFeatures(b, sources) }
                    if let head = module as? any MultiOutputHead { return try head.lowerOutputs(b, sources) }
                    if ctx.repeats == 1 { return [try module.lower(b, sources)] }
                    var v = sources[0]
                    for r in 0..<ctx.repeats { v = try b.scoped(String(r)) { try module.lower(b, [v]) } }
                    return [v]
                }
            } catch let e as ShapeError {
                throw fail("\(row.module): \(e.message)")
            }
            requirementRows += Array(repeating: (row, layer), count: b.sizeRequirements.count - requirementsBefore)
            if let head = module as? any DetectionHead { strides = head.strides(b, sources).map { Int($0) } }
            let params = b.graph.constantOrder[before...].reduce(0) { n, v in
                guard let c = b.graph.constants[v], c.kind == .parameter else { return n }
                return n + c.tensor.count
            }
            if let backbone {
                let slots = 5
                guard ys.count <= slots, ys.count == backbone.featureChannels.count else {
                    throw fail("\(row.module) returns \(ys.count) feature maps for \(backbone.featureChannels.count) channel counts; a backbone fills at most \(slots) layers")
                }
                outputs = [ValueID?](repeating: nil, count: slots - ys.count) + ys.map { Optional($0) }
                channels = [Int](repeating: 0, count: slots - ys.count) + backbone.featureChannels
                layerOffset = slots - 1
            } else {
                outputs.append(ys[0])
                channels.append(module.outputChannels)
            }
            guard let first = ys.first else { throw fail("\(row.module) produced no output") }
            last = backbone != nil ? ys.last : first
            if module is any MultiOutputHead { headOutputs = ys }
            // The seed's parse_model gives the backbone itself m_.i = 4, its last slot.
            layers.append(LayerInfo(index: i, layer: backbone != nil ? outputs.count - 1 : layer,
                                    from: row.fromDescription, number: depth, module: row.module,
                                    arguments: module.constructorArguments, parameters: params,
                                    outputShape: (backbone != nil ? ys.last : ys.first).map { b.type($0).shape } ?? []))
            if backbone != nil { layers[layers.count - 1].featureShapes = ys.map { b.type($0).shape } }
            layers[layers.count - 1].unusedParameters = b.unusedParameters[unusedBefore...].reduce(0) { $0 + $1.count }
        }
        try checkSizeRequirements(b.sizeRequirements, rows: requirementRows, config: config, options: options)
        guard let last else {
            throw ConfigError(file: config.file, line: nil, "backbone and head hold no layers")
        }
        // A multi-output head (Segment) gives output0, output1, ...; otherwise the last layer is output0.
        for (k, v) in (headOutputs ?? [last]).enumerated() { b.output(v, name: "output\(k)") }
        ExportMetadata.set(b, config, strides: strides, options: options)
        let graph = b.finish()
        return LoweredModel(graph: graph, layers: layers, strides: strides, notes: b.notes,
                            yolov5FusedParameters: graph.constantElementCount(kinds: [.parameter]) - b.convModuleBatchNormChannels
                                + b.unusedParameters.reduce(0) { $0 + $1.count },
                            unusedParameters: b.unusedParameters, sizeRequirements: b.sizeRequirements)
    }
}

import Foundation

/// A module that returns several feature maps (a backbone), as seeds 001 and 002 extend parse_model.
public protocol MultiOutputModule: YoloModule {
    /// Channels of each feature map, in the order `forward` returns them.
    var featureChannels: [Int] { get }
    func lowerFeatures(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> [ValueID]
}

extension MultiOutputModule {
    public var outputChannels: Int { featureChannels.last ?? 0 }
    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        guard let last = try lowerFeatures(b, inputs).last else {
            throw ShapeError(layer: b.currentScope, op: "backbone", message: "returns no feature maps")
        }
        return last
    }
}

/// A head whose forward returns several model outputs (Segment: detections, then mask prototypes).
/// It must be the last row; its outputs become output0, output1, ...
public protocol MultiOutputHead: YoloModule {
    func lowerOutputs(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> [ValueID]
}

extension MultiOutputHead {
    public func lower(_ b: GraphBuilder, _ inputs: [ValueID]) throws -> ValueID {
        guard let first = try lowerOutputs(b, inputs).first else {
            throw ShapeError(layer: b.currentScope, op: "head", message: "returns no outputs")
        }
        return first
    }
}

/// A head that decodes boxes at strides (Detect, DecoupledDetect, Segment): the model's strides are its.
protocol DetectionHead {
    func strides(_ b: GraphBuilder, _ inputs: [ValueID]) -> [Float]
}

/// What a layer needs of the image size: a patch size that must divide its feature map, say, or a
/// window size that its padding depends on. At multiples of `multiple` the layer's graph is the same
/// apart from its sizes, which is what a dynamic-shape export needs.
public struct SizeRequirement: Sendable {
    /// The module, for the message.
    public var module: String
    /// Where it is, `model.9.m.0`.
    public var layer: String = ""
    /// What fails when it is not met, e.g. "the 20x20 feature map does not divide into 3x3 patches".
    public var problem: String
    /// Image sizes that meet it are multiples of these (height, width), when the map's stride is exact.
    public var multiple: (height: Int, width: Int)?
    /// Whether the layer can be built at this size (a padded window is; a patch that does not divide is not).
    public var met: Bool
}

extension ModelLowering {
    /// Throws for the first unmet size requirement, naming the image sizes that meet them all.
    static func checkSizeRequirements(_ requirements: [SizeRequirement], rows: [(row: LayerRow, layer: Int)], config: ModelConfig,
                                      options: CompileOptions) throws {
        guard !options.allowUnmetSizeRequirements, let k = requirements.firstIndex(where: { !$0.met }) else { return }
        let r = requirements[k], (row, layer) = rows[k]
        var message = "\(r.module): \(r.problem) at image size \(options.imageHeight)x\(options.imageWidth)"
        let multiples = requirements.compactMap(\.multiple)
        if multiples.count == requirements.count {
            let stride = options.detectStrides?.max() ?? 1
            let mh = multiples.reduce(stride) { lcm($0, $1.height) }
            let mw = multiples.reduce(stride) { lcm($0, $1.width) }
            // Past 2^20 the hint helps no one (and its arithmetic could overflow).
            guard mh <= 1 << 20, mw <= 1 << 20 else { throw ConfigError(file: config.file, line: row.line, layer: layer, row: row.index, message) }
            func near(_ size: Int, _ m: Int) -> String {
                let below = size / m * m
                return below >= m ? "\(below), \(below + m), ..." : "\(m), \(2 * m), ..."
            }
            if mh == mw {
                message += "; image sizes that work for this config are multiples of \(mh) (\(near(max(options.imageHeight, options.imageWidth), mh)))"
            } else {
                message += "; image sizes that work for this config are heights that are multiples of \(mh) (\(near(options.imageHeight, mh))) and widths that are multiples of \(mw) (\(near(options.imageWidth, mw)))"
            }
        }
        throw ConfigError(file: config.file, line: row.line, layer: layer, row: row.index, message)
    }
}

/// The least common multiple, saturating at Int.max (sizes come from the config).
func lcm(_ a: Int, _ b: Int) -> Int {
    let (m, o) = (a / gcd(a, b)).multipliedReportingOverflow(by: b)
    return o ? Int.max : m
}

extension ModelLowering {
    /// The block a row names, in the config's dialect; an unknown name is refused with the known ones.
    static func moduleType(_ row: LayerRow, layer: Int, _ config: ModelConfig) throws -> any YoloModule.Type {
        func fail(_ m: String) -> ConfigError { ConfigError(file: config.file, line: row.line, layer: layer, row: row.index, m) }
        guard let type = ModuleRegistry.lookup(row.module, dialect: config.dialect) else {
            if let other = ModuleRegistry.otherDialect(knowing: row.module, config.dialect) {
                let why = config.dialect == .yolov5 ? "has 'anchors'" : "has no 'anchors'"
                throw fail("'\(row.module)' is \(other == .yolov5 ? "a YOLOv5" : "an Ultralytics") module, but this config \(why), so it is read as \(config.dialect == .yolov5 ? "a YOLOv5" : "an Ultralytics") config")
            }
            throw fail("unknown module '\(row.module)' (\(config.dialect.rawValue) modules known: \(ModuleRegistry.knownNames(config.dialect).joined(separator: ", ")))")
        }
        return type
    }
}
