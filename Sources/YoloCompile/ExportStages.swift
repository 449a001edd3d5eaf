/// What an export adds to the compiled graph, in order: dynamic sizes, then end-to-end NMS.
public struct ExportStages: Sendable {
    public var dynamic: DynamicAxes?
    public var nms: NMSRequest?

    public init(dynamic: DynamicAxes? = nil, nms: NMSRequest? = nil) {
        self.dynamic = dynamic
        self.nms = nms
    }

    /// The graph `export` writes, and what `verify` needs to check it.
    public struct Result: Sendable {
        public var graph: Graph
        /// The graph before NMS (the raw head outputs), static or dynamic as `graph` is.
        public var beforeNMS: Graph
        public var layout: DetectionLayout?
        /// The NMS settings, the family's defaults filled in.
        public var nms: NMSOptions?
        public var dynamic: DynamicModel?
        public var notes: [String]
    }

    public func apply(to c: CompiledModel, options: CompileOptions, fuse: Bool) throws -> Result {
        var notes: [String] = []
        var graph = c.optimized
        var dynamicModel: DynamicModel? = nil
        // The layout is checked first: a model NMS cannot take is refused before the probes are built.
        let layout = try nms.map { _ in try DetectionLayout.of(c) }
        if let dynamic {
            let d = try DynamicShapes.generalize(c, options: options, fuse: fuse, axes: dynamic)
            notes += d.notes
            graph = d.graph
            dynamicModel = d
        }
        let before = graph
        let nms = self.nms.map { $0.resolved(for: c.config.dialect) }
        if let nms, let layout {
            graph = try EndToEndNMS.append(to: graph, layout: layout, options: nms)
            notes.append("end-to-end NMS: score > \(nms.scoreThreshold), IoU > \(nms.iouThreshold) suppressed, at most \(nms.maxDetections) detections, \(nms.agnostic ? "class-agnostic" : "per class")")
        }
        return Result(graph: graph, beforeNMS: before, layout: layout, nms: nms, dynamic: dynamicModel, notes: notes)
    }
}

/// End-to-end NMS as asked: what is not given takes the config family's default (`NMSOptions.defaults`).
public struct NMSRequest: Sendable, Equatable {
    public var scoreThreshold: Float?
    public var iouThreshold: Float?
    public var maxDetections: Int?
    public var agnostic: Bool

    public init(scoreThreshold: Float? = nil, iouThreshold: Float? = nil, maxDetections: Int? = nil, agnostic: Bool = false) {
        self.scoreThreshold = scoreThreshold
        self.iouThreshold = iouThreshold
        self.maxDetections = maxDetections
        self.agnostic = agnostic
    }

    public func resolved(for dialect: ConfigDialect) -> NMSOptions {
        var o = NMSOptions.defaults(for: dialect)
        if let t = scoreThreshold { o.scoreThreshold = t }
        if let t = iouThreshold { o.iouThreshold = t }
        if let k = maxDetections { o.maxDetections = k }
        o.agnostic = agnostic
        return o
    }
}
