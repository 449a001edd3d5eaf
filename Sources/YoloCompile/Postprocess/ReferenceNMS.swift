/// The NMS `verify` holds end-to-end exports to, written from YOLOv5's `non_max_suppression` rather
/// than from the graph: per image, each candidate scored by its best class (objectness x class score
/// for YOLOv5), kept when the score exceeds the threshold, boxes xywh -> xyxy, then greedy NMS in
/// descending score (ties: lower index first) per class (or over all), a box suppressed by a kept one
/// whose IoU with it exceeds the threshold; the kept ones sorted by score, the first K returned, the
/// rest zero. It returns the end-to-end outputs in `EndToEndNMS`'s layout.
///
/// Where it differs from YOLOv5's own: no max_nms = 30000 cap on candidates and no time limit, and
/// classes are kept apart by NMS per class rather than by coordinate offsets (which round).
public enum ReferenceNMS {
    public static func run(_ raw: Tensor, layout: DetectionLayout, options: NMSOptions) throws -> [Tensor] {
        guard raw.shape.count == 3, raw.dtype.storage == .floats else {
            throw InterpreterError(node: "reference NMS", op: "NMS", message: "output0 \(raw.shape) is not (batch, rows, values)")
        }
        let batches = raw.shape[0]
        let (n, width) = layout.channelsFirst ? (raw.shape[2], raw.shape[1]) : (raw.shape[1], raw.shape[2])
        guard width == layout.rowLength else {
            throw InterpreterError(node: "reference NMS", op: "NMS", message: "output0 rows hold \(width) values, the layout \(layout.rowLength)")
        }
        let k = min(options.maxDetections, n), extra = layout.extra.count
        var numDets = [Int64](), boxesOut = [Float](), scoresOut = [Float](), classesOut = [Int64](), extraOut = [Float]()
        for b in 0..<batches {
            func value(_ i: Int, _ c: Int) -> Float {
                layout.channelsFirst ? raw.floats[(b * width + c) * n + i] : raw.floats[(b * n + i) * width + c]
            }
            var score = [Float](repeating: 0, count: n), label = [Int](repeating: 0, count: n)
            var box = [(Float, Float, Float, Float)]()
            box.reserveCapacity(n)
            for i in 0..<n {
                var best = -Float.infinity, arg = 0
                for c in 0..<layout.classes {
                    var s = value(i, layout.firstClass + c)
                    if layout.objectness { s *= value(i, 4) }
                    if s > best { (best, arg) = (s, c) }
                }
                (score[i], label[i]) = (best, arg)
                let (x, y, w, h) = (value(i, 0), value(i, 1), value(i, 2), value(i, 3))
                let (hw, hh) = (w * 0.5, h * 0.5)
                box.append((x - hw, y - hh, x + hw, y + hh))
            }
            let candidates = (0..<n).filter { score[$0] > options.scoreThreshold }
                .sorted { score[$0] > score[$1] || (score[$0] == score[$1] && $0 < $1) }
            var kept: [Int] = []
            var keptPerClass: [Int: [Int]] = [:]
            for i in candidates {
                let group = options.agnostic ? 0 : label[i]
                let others = keptPerClass[group] ?? []
                guard others.count < options.maxDetections else { continue }
                if others.contains(where: { iou(box[$0], box[i]) > Double(options.iouThreshold) }) { continue }
                keptPerClass[group, default: []].append(i)
                kept.append(i)
            }
            kept.sort { score[$0] > score[$1] || (score[$0] == score[$1] && $0 < $1) }
            let top = kept.prefix(k)
            numDets.append(Int64(top.count))
            for slot in 0..<k {
                guard slot < top.count else {
                    boxesOut += [0, 0, 0, 0]; scoresOut.append(0); classesOut.append(0)
                    extraOut += [Float](repeating: 0, count: extra)
                    continue
                }
                let i = top[top.startIndex + slot]
                boxesOut += [box[i].0, box[i].1, box[i].2, box[i].3]
                scoresOut.append(score[i])
                classesOut.append(Int64(label[i]))
                for e in 0..<extra { extraOut.append(value(i, layout.firstExtra + e)) }
            }
        }
        var out = [Tensor(shape: [batches, 1], ints: numDets, dtype: .int32), Tensor(shape: [batches, k, 4], floats: boxesOut),
                   Tensor(shape: [batches, k], floats: scoresOut), Tensor(shape: [batches, k], ints: classesOut, dtype: .int32)]
        switch layout.extra {
        case .none: break
        case .maskCoefficients(let m): out.append(Tensor(shape: [batches, k, m], floats: extraOut))
        case .keypoints(let nk, let d): out.append(Tensor(shape: [batches, k, nk, d], floats: extraOut))
        }
        return out
    }

    /// Intersection over union of two xyxy boxes, in double (ONNX's NonMaxSuppression formula: empty
    /// or degenerate boxes overlap nothing).
    static func iou(_ p: (Float, Float, Float, Float), _ q: (Float, Float, Float, Float)) -> Double {
        let (px0, px1) = (Double(min(p.0, p.2)), Double(max(p.0, p.2))), (py0, py1) = (Double(min(p.1, p.3)), Double(max(p.1, p.3)))
        let (qx0, qx1) = (Double(min(q.0, q.2)), Double(max(q.0, q.2))), (qy0, qy1) = (Double(min(q.1, q.3)), Double(max(q.1, q.3)))
        let w = min(px1, qx1) - max(px0, qx0), h = min(py1, qy1) - max(py0, qy0)
        guard w > 0, h > 0 else { return 0 }
        let inter = w * h, union = (px1 - px0) * (py1 - py0) + (qx1 - qx0) * (qy1 - qy0) - inter
        return union > 0 ? inter / union : 0
    }
}
