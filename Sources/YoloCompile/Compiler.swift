/// The main job end to end: config -> lowered IR -> passes -> ONNX bytes.
public struct CompiledModel: Sendable {
    public var config: ModelConfig
    public var lowered: LoweredModel
    /// The graph after the pass pipeline: what is exported.
    public var optimized: Graph
    public var reports: [PassReport]
    /// Where the weights came from (file, format, tensor types), when a file was bound.
    public var weightsSummary: String? = nil
}

/// Where a model's weights come from.
public enum WeightsSource {
    case seeded
    /// A weights file (safetensors, state_dict or checkpoint) for a config.
    case file(String, partial: Bool)
}

public enum Compiler {
    /// Compiles what a user names: a config (with optional weights), or a YOLOv5 checkpoint alone.
    /// `keepUnfused: false` lets the passes rewrite the lowered graph in place (export needs only the
    /// result), so peak memory holds one copy of the weights instead of two.
    public static func compile(model path: String, weights: WeightsSource, options: CompileOptions, fuse: Bool = true,
                               keepUnfused: Bool = true) throws -> CompiledModel {
        var store: WeightStore? = nil
        var partial = false
        if case .file(let w, let p) = weights {
            store = try WeightStore.open(w)
            partial = p
        }
        let config: ModelConfig
        if isWeightsFile(path) {
            guard store == nil else { throw WeightsError(file: path, "is a checkpoint; give either a checkpoint or a config with --weights") }
            let s = try WeightStore.open(path)
            guard let embedded = s.embeddedConfig else {
                throw WeightsError(file: path, "is a \(s.format) without a model config; give the config YAML and pass this file with --weights")
            }
            config = try ConfigParser.parse(yaml: embedded.yaml, file: path + " (embedded " + embedded.name + ")", scale: options.scale)
            store = s
        } else {
            config = try ConfigParser.parse(file: path, scale: options.scale)
        }
        var named = config
        if let store, let embedded = store.embeddedConfig {
            // Name the graph after the config file the checkpoint was built from, as a YAML export would be.
            named.file = embedded.name
            named.name = ModelConfig.name(ofFile: embedded.name)
        }
        if let classNames = store?.classNames, classNames.count == config.nc { named.names = classNames }
        guard let store else { return try compile(named, options: options, fuse: fuse, keepUnfused: keepUnfused) }
        let binding = BoundParameters(store: store, partial: partial, seed: options.seed, allowNonFinite: options.allowNonFiniteWeights)
        var compiled = try compile(named, options: options, fuse: fuse, parameters: binding, keepUnfused: keepUnfused)
        compiled.lowered.notes += try binding.check()
        compiled.weightsSummary = store.summary
        return compiled
    }

    /// A .pt/.pth/.safetensors path, or a file whose first bytes are a zip's.
    public static func isWeightsFile(_ path: String) -> Bool {
        let lower = path.lowercased()
        return lower.hasSuffix(".pt") || lower.hasSuffix(".pth") || lower.hasSuffix(".safetensors")
    }

    /// Compiles a config file. An image size that the model's largest stride does not divide is
    /// rounded up to the next multiple, as YOLOv5's check_img_size does; a note says so.
    public static func compile(configFile: String, options: CompileOptions, fuse: Bool = true,
                               parameters: (any ParameterSource)? = nil) throws -> CompiledModel
    {
        let config = try ConfigParser.parse(file: configFile, scale: options.scale)
        return try compile(config, options: options, fuse: fuse, parameters: parameters)
    }

    public static func compile(_ config: ModelConfig, options: CompileOptions, fuse: Bool = true,
                               parameters: (any ParameterSource)? = nil, keepUnfused: Bool = true) throws -> CompiledModel
    {
        // YOLOv5 measures Detect's strides on a 256x256 probe and rounds the image size up to a multiple
        // of the largest (check_img_size); a model the probe cannot build keeps size-derived strides.
        var opts = options
        var sizeNote: String? = nil
        var probe = CompileOptions(imageHeight: 256, imageWidth: 256)
        probe.detectStrides = nil
        probe.allowUnmetSizeRequirements = true
        if let strides = (try? ModelLowering.lower(config, options: probe, parameters: ZeroParameters()))?.strides,
           let stride = strides.max(), stride > 0
        {
            opts.detectStrides = strides
            let h = (opts.imageHeight + stride - 1) / stride * stride, w = (opts.imageWidth + stride - 1) / stride * stride
            if (h, w) != (opts.imageHeight, opts.imageWidth) {
                sizeNote = "image size \(opts.imageHeight)x\(opts.imageWidth) is not a multiple of the max stride \(stride); using \(h)x\(w)"
                (opts.imageHeight, opts.imageWidth) = (h, w)
            }
        }
        var lowered = try ModelLowering.lower(config, options: opts, parameters: parameters)
        if let sizeNote { lowered.notes.insert(sizeNote, at: 0) }
        lowered.notes.insert(contentsOf: config.notes, at: 0)
        try Verifier.verify(lowered.graph)
        var g = lowered.graph
        if !keepUnfused { lowered.graph = Graph(name: g.name) }
        let reports = try (fuse ? PassManager.standard : PassManager.cleanupOnly).run(&g)
        return CompiledModel(config: config, lowered: lowered, optimized: g, reports: reports)
    }
}

/// Floating-point operations of a graph, counted as YOLOv5's model_info does with thop (MACs x 2),
/// by each operator's declaration (`OperatorSchema.flops`): Conv and ConvTranspose multiply-adds, a
/// BatchNorm still in the graph, nn.Linear (a MatMul or Gemm by a fixed matrix). Activations, pooling,
/// resizing and the Detect decode count nothing, as in thop.
public func graphFLOPs(_ g: Graph) -> Double {
    var flops = 0.0
    var fixed = Set(g.constants.keys)
    for n in g.nodes where n.inputs.allSatisfy({ $0.map { fixed.contains($0) } ?? true }) { fixed.formUnion(n.outputs) }
    for n in g.nodes {
        guard let schema = Operators.schema(n.op), let count = schema.flops,
              let attributes = try? AttributeView(n, schema: schema) else { continue }
        flops += count(FlopQuery(node: n, attributes: attributes, inputTypes: n.inputs.map { $0.map(g.type(of:)) },
                                 outputTypes: n.outputs.map(g.type(of:)), inputIsFixed: n.inputs.map { $0.map { fixed.contains($0) } ?? false }))
    }
    return flops
}
