/// What an export adds to the compiled graph, in order: dynamic sizes, end-to-end NMS, then the
/// target runtime's legalisations, after which the graph must fit the target or the export fails.
public struct ExportStages: Sendable {
    public var dynamic: DynamicAxes?
    public var nms: NMSRequest?
    public var target: RuntimeTarget

    public init(dynamic: DynamicAxes? = nil, nms: NMSRequest? = nil, target: RuntimeTarget = .generic) {
        self.dynamic = dynamic
        self.nms = nms
        self.target = target
    }

    public var profile: RuntimeProfile { RuntimeProfile.of(target) }

    /// The opset to write: the one asked for, else 17 within the target's range.
    public func opset(_ asked: Int?) -> Int { asked ?? min(max(Opset.defaultVersion, profile.opsets.lowerBound), profile.opsets.upperBound) }

    /// The graph `export` writes, and what `verify` needs to check it.
    public struct Result: Sendable {
        public var graph: Graph
        /// The graph before NMS (the raw head outputs), static or dynamic as `graph` is.
        public var beforeNMS: Graph
        public var layout: DetectionLayout?
        /// The NMS settings, the family's defaults filled in.
        public var nms: NMSOptions?
        public var dynamic: DynamicModel?
        /// The dynamic form applied (asked, or the target's default).
        public var dynamicAxes: DynamicAxes?
        public var notes: [String]
    }

    public func apply(to c: CompiledModel, options: CompileOptions, fuse: Bool, opset: Int) throws -> Result {
        var notes: [String] = []
        let profile = self.profile
        func refuse(_ m: String) -> TargetError { TargetError(file: c.config.file, message: "--target \(target.rawValue): \(m)") }
        let dynamic = self.dynamic ?? profile.defaultDynamic
        if let dynamic, !profile.dynamic.contains(dynamic) {
            throw refuse(profile.dynamic.isEmpty ? "\(profile.runtime) takes static shapes only; export without --dynamic"
                : "\(profile.runtime) takes only the batch dynamic; use --dynamic batch")
        }
        if self.dynamic == nil, let d = profile.defaultDynamic {
            notes.append("--target \(target.rawValue): --dynamic \(d.rawValue), as \(profile.runtime) engines need")
        }
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
        if !profile.legalizations.isEmpty {
            let reports = try PassManager(profile.legalizations, verify: graph.inputs.allSatisfy { graph.type(of: $0).isStatic }).run(&graph)
            for r in reports where !r.changes.isEmpty {
                notes.append("--target \(target.rawValue): \(r.pass): \(r.changes.count) rewrites")
            }
        }
        let violations = profile.violations(of: graph, opset: opset, written: try RuntimeProfile.written(graph, opset: opset))
        if let first = violations.first {
            throw refuse("\(first)" + (violations.count > 1 ? " (and \(violations.count - 1) more)" : ""))
        }
        return Result(graph: graph, beforeNMS: before, layout: layout, nms: nms, dynamic: dynamicModel, dynamicAxes: dynamic, notes: notes)
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

/// A graph that cannot be brought within a runtime target, naming the node.
public struct TargetError: FileError, Equatable {
    public var file: String
    public var message: String
}
