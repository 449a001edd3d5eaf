/// End-to-end detection in the graph: output0's candidates through ONNX NonMaxSuppression into the
/// layout end-to-end models use (TensorRT's EfficientNMS):
///
///     num_dets     (B, 1)     int32   detections kept per image
///     det_boxes    (B, K, 4)  float   x1, y1, x2, y2 in input pixels
///     det_scores   (B, K)     float   descending
///     det_classes  (B, K)     int32
///     det_coefficients (B, K, nm) / det_keypoints (B, K, nk, d)   Segment's mask coefficients / Pose's keypoints
///
/// Rows past num_dets are zero. K is the maximum detections (or the candidates, if fewer). Segment
/// keeps `output1` (the prototypes) after these.
///
///     boxes  = xywh -> xyxy (x - w * 0.5, ...)                         (B, N, 4)
///     score  = max over classes of class [* objectness], label = argmax (B, N)
///     scores = score in the label's row, -1 elsewhere (class-aware)     (B, nc, N), or score (B, 1, N)
///     kept   = NonMaxSuppression(boxes, scores, K, iou, score threshold)          (S, 3)
///     map    = ScatterND(-1 everywhere, kept's (batch, box), their scores)      (B, N)   (no Shape)
///     top    = TopK(map, K): values and box indices, descending; valid = value > -1
///
/// Each candidate competes only under its best class, as YOLOv5's and Ultralytics' NMS do by default
/// (multi_label=False); the class-aware NMS is ONNX's own per-class loop, with no coordinate offsets.
public enum EndToEndNMS {
    public static let outputNames = ["num_dets", "det_boxes", "det_scores", "det_classes"]

    public static func append(to g: Graph, layout: DetectionLayout, options: NMSOptions) throws -> Graph {
        guard let raw = g.outputs.first, let dims = g.type(of: raw).dims, dims.count == 3 else {
            throw ShapeError(layer: "nms", op: "NonMaxSuppression", message: "output0 is not (batch, rows, values)")
        }
        var a = GraphAppender(g, prefix: "nms")
        func ints(_ v: [Int]) -> ValueID { a.constant(.vector(v)) }
        func slice(_ x: ValueID, _ start: Int, _ end: Int) throws -> ValueID {
            try a.op("Slice", [x, ints([start]), ints([end]), ints([2])])
        }
        // (B, N, values)
        let y = layout.channelsFirst ? try a.op("Transpose", [raw], ["perm": .ints([0, 2, 1])]) : raw
        let xy = try slice(y, 0, 2), wh = try slice(y, 2, 4)
        let half = try a.op("Mul", [wh, a.constant(.scalar(0.5))])
        let boxes = try a.op("Concat", [try a.op("Sub", [xy, half]), try a.op("Add", [xy, half])], ["axis": .int(2)])
        var classScores = try slice(y, layout.firstClass, layout.firstExtra)
        if layout.objectness { classScores = try a.op("Mul", [classScores, try slice(y, 4, 5)]) }
        let score = try a.op("ReduceMax", [classScores, ints([2])], ["keepdims": .int(0)])
        let label = try a.op("ArgMax", [classScores], ["axis": .int(2), "keepdims": .int(0)])
        let scoreRow = try a.op("Unsqueeze", [score, ints([1])])
        let minusOne = a.constant(.scalar(-1))
        let scores: ValueID
        if options.agnostic {
            scores = scoreRow
        } else {
            let classIndex = a.constant(Tensor(shape: [1, layout.classes, 1], ints: (0..<layout.classes).map(Int64.init)))
            let isLabel = try a.op("Equal", [try a.op("Unsqueeze", [label, ints([1])]), classIndex])
            scores = try a.op("Where", [isLabel, scoreRow, minusOne])
        }
        let kept = try a.op("NonMaxSuppression", [boxes, scores, ints([options.maxDetections]),
                                                  a.constant(.vector([options.iouThreshold])), a.constant(.vector([options.scoreThreshold]))])
        let where_ = try a.op("Concat", [try a.op("Slice", [kept, ints([0]), ints([1]), ints([1])]),
                                          try a.op("Slice", [kept, ints([2]), ints([3]), ints([1])])], ["axis": .int(1)])
        // -1 wherever NMS keeps nothing (scores are at least 0), made without reading the shape.
        let none = try a.op("Where", [try a.op("Less", [score, minusOne]), score, minusOne])
        let map = try a.op("ScatterND", [none, where_, try a.op("GatherND", [score, where_])])
        // K = min(max detections, candidates): a constant unless the candidates are a symbol.
        let k: ValueID
        if let n = dims[layout.channelsFirst ? 2 : 1].value {
            k = ints([min(options.maxDetections, n)])
        } else {
            let n = try a.op("Gather", [try a.op("Shape", [score]), ints([1])], ["axis": .int(0)])
            k = try a.op("Min", [n, ints([options.maxDetections])])
        }
        let top = try a.add("TopK", [map, k], ["axis": .int(1), "largest": .int(1), "sorted": .int(1)], outputs: 2)
        let valid = try a.op("Greater", [top[0], minusOne])
        let count = try a.op("Cast", [valid], ["to": .int(Int(DType.int32.onnxCode))])
        let numDets = try a.op("ReduceSum", [count, ints([1])], ["keepdims": .int(1)])
        let zero = a.constant(.scalar(0))
        let detScores = try a.op("Where", [valid, top[0], zero])
        let rowIndex = try a.op("Unsqueeze", [top[1], ints([2])])
        let validRow = try a.op("Unsqueeze", [valid, ints([2])])
        func gatherRows(_ x: ValueID) throws -> ValueID {
            try a.op("Where", [validRow, try a.op("GatherND", [x, rowIndex], ["batch_dims": .int(1)]), zero])
        }
        let detBoxes = try gatherRows(boxes)
        let labels = try a.op("Cast", [try a.op("GatherElements", [label, top[1]], ["axis": .int(1)])], ["to": .int(Int(DType.int32.onnxCode))])
        let detClasses = try a.op("Where", [valid, labels, a.constant(Tensor(shape: [], ints: [0], dtype: .int32))])
        var outputs = [numDets, detBoxes, detScores, detClasses]
        var names = outputNames
        switch layout.extra {
        case .none: break
        case .maskCoefficients:
            outputs.append(try gatherRows(try slice(y, layout.firstExtra, layout.rowLength)))
            names.append("det_coefficients")
        case .keypoints(let nk, let d):
            let rows = try gatherRows(try slice(y, layout.firstExtra, layout.rowLength))
            outputs.append(try a.op("Reshape", [rows, ints([0, 0, nk, d])]))
            names.append("det_keypoints")
        }
        var out = a.graph
        let rest = Array(out.outputs.dropFirst())
        out.outputs = []
        for (v, name) in zip(outputs, names) {
            out.outputs.append(v)
            out.rename(v, name)
        }
        out.outputs += rest
        // The interface's sizes, by name where they are not numbers: the raw output's batch, and K.
        let batch = dims[0]
        let kDim: Dim = dims[layout.channelsFirst ? 2 : 1].value.map { .value(min(options.maxDetections, $0)) } ?? .symbol("detections")
        var shapes: [[Dim]] = [[batch, .value(1)], [batch, kDim, .value(4)], [batch, kDim], [batch, kDim]]
        switch layout.extra {
        case .none: break
        case .maskCoefficients(let m): shapes.append([batch, kDim, .value(m)])
        case .keypoints(let nk, let d): shapes.append([batch, kDim, .value(nk), .value(d)])
        }
        for (v, d) in zip(out.outputs, shapes) { out.setType(v, TensorType(out.type(of: v).dtype, dims: d)) }
        return out
    }
}
