/// Where a detection head's raw output keeps each candidate's box, scores and extras, so that NMS (in
/// the graph or the reference) can read it.
///
///     YOLOv5       output0 (B, N, 5 + nc [+ nm])     cx, cy, w, h, objectness, class scores [, mask coefficients]
///     Ultralytics  output0 (B, 4 + nc + extra, A)    cx, cy, w, h, class scores [, mask coefficients | keypoints]
///
/// A candidate's score is objectness x class score (YOLOv5) or the class score (Ultralytics), as
/// their `non_max_suppression` computes it.
public struct DetectionLayout: Sendable, Equatable {
    public enum Extra: Sendable, Equatable {
        case none
        case maskCoefficients(Int)
        /// (keypoints, values per keypoint), Pose's kpt_shape.
        case keypoints(Int, Int)

        public var count: Int {
            switch self {
            case .none: return 0
            case .maskCoefficients(let n): return n
            case .keypoints(let k, let d): return k * d
            }
        }
    }

    /// Ultralytics' (B, channels, anchors) rather than YOLOv5's (B, anchors, channels).
    public var channelsFirst: Bool
    public var objectness: Bool
    public var classes: Int
    public var extra: Extra

    /// Values per candidate.
    public var rowLength: Int { 4 + (objectness ? 1 : 0) + classes + extra.count }
    public var firstClass: Int { objectness ? 5 : 4 }

    public init(channelsFirst: Bool, objectness: Bool, classes: Int, extra: Extra) {
        self.channelsFirst = channelsFirst
        self.objectness = objectness
        self.classes = classes
        self.extra = extra
    }
    public var firstExtra: Int { firstClass + classes }

    /// The layout of a compiled model's output0, or why it has none NMS can use.
    public static func of(_ c: CompiledModel) throws -> DetectionLayout {
        let head = c.config.rows.last.map { String($0.module.split(separator: ".").last ?? "") } ?? ""
        func refuse(_ why: String) -> ConfigError { ConfigError(file: c.config.file, line: c.config.rows.last?.line, "--nms: \(why)") }
        let layout: DetectionLayout
        switch (c.config.dialect, head) {
        case (.yolov5, "Detect"), (.yolov5, "DecoupledDetect"):
            layout = DetectionLayout(channelsFirst: false, objectness: true, classes: c.config.nc, extra: .none)
        case (.yolov5, "Segment"):
            let no = c.optimized.outputs.first.map { c.optimized.type(of: $0).shape.last ?? 0 } ?? 0
            layout = DetectionLayout(channelsFirst: false, objectness: true, classes: c.config.nc, extra: .maskCoefficients(no - 5 - c.config.nc))
        case (.ultralytics, "Detect"):
            layout = DetectionLayout(channelsFirst: true, objectness: false, classes: c.config.nc, extra: .none)
        case (.ultralytics, "Segment"):
            let no = c.optimized.outputs.first.map { c.optimized.type(of: $0).shape.dropFirst().first ?? 0 } ?? 0
            layout = DetectionLayout(channelsFirst: true, objectness: false, classes: c.config.nc, extra: .maskCoefficients(no - 4 - c.config.nc))
        case (.ultralytics, "Pose"):
            let k = c.config.keypointShape ?? [17, 3]
            guard k.count == 2 else { throw refuse("kpt_shape \(k) is not [keypoints, values]") }
            layout = DetectionLayout(channelsFirst: true, objectness: false, classes: c.config.nc, extra: .keypoints(k[0], k[1]))
        case (_, "OBB"):
            throw refuse("OBB's rotated boxes need a rotated-box NMS, which ONNX NonMaxSuppression (axis-aligned) cannot do; export without --nms and apply a rotated NMS to output0")
        case (_, "Classify"):
            throw refuse("a classifier has no boxes to suppress")
        default:
            throw refuse("the last layer is \(head), not a detection head (Detect, DecoupledDetect, Segment, Pose)")
        }
        guard let out = c.optimized.outputs.first, let shape = c.optimized.type(of: out).staticShape, shape.count == 3,
              shape[layout.channelsFirst ? 1 : 2] == layout.rowLength else {
            throw refuse("output0 is not the \(layout.rowLength)-value rows this head's layout expects")
        }
        return layout
    }
}

/// End-to-end NMS's settings. Defaults follow each family's detect: YOLOv5's detect.py (0.25, 0.45,
/// 1000) and Ultralytics' predict (0.25, 0.7, 300).
public struct NMSOptions: Sendable, Equatable {
    /// Candidates scoring at most this are dropped (score > threshold is kept, as ONNX's NonMaxSuppression).
    public var scoreThreshold: Float
    /// A box overlapping a kept one by IoU above this is suppressed.
    public var iouThreshold: Float
    /// Detections per image, at most.
    public var maxDetections: Int
    /// One NMS over all classes, rather than one per class.
    public var agnostic: Bool

    public init(scoreThreshold: Float, iouThreshold: Float, maxDetections: Int, agnostic: Bool) {
        self.scoreThreshold = scoreThreshold
        self.iouThreshold = iouThreshold
        self.maxDetections = maxDetections
        self.agnostic = agnostic
    }

    public static func defaults(for dialect: ConfigDialect) -> NMSOptions {
        dialect == .yolov5 ? NMSOptions(scoreThreshold: 0.25, iouThreshold: 0.45, maxDetections: 1000, agnostic: false)
            : NMSOptions(scoreThreshold: 0.25, iouThreshold: 0.7, maxDetections: 300, agnostic: false)
    }
}
