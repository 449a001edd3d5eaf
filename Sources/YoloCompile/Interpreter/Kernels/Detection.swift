/// NonMaxSuppression as ONNX defines it (and onnxruntime computes it): per batch and class, the boxes
/// scoring above score_threshold in descending score (ties: lower index first), each kept unless its
/// IoU with an already kept box exceeds iou_threshold, at most max_output_boxes_per_class of them.
extension Kernels {
    static let nonMaxSuppression: Kernel = { ctx in
        let boxes = try ctx.input(0), scores = try ctx.input(1)
        guard boxes.shape.count == 3, boxes.shape[2] == 4, scores.shape.count == 3, scores.shape[0] == boxes.shape[0],
              scores.shape[2] == boxes.shape[1] else {
            throw ctx.fail("boxes \(boxes.shape) and scores \(scores.shape) must be (B, N, 4) and (B, C, N)")
        }
        let limit = Swift.max(ctx.optional(2).flatMap { $0.ints.first } ?? 0, 0)
        let iou = ctx.optional(3).flatMap { $0.doubleValues.first } ?? 0
        let threshold = ctx.optional(4).flatMap { $0.doubleValues.first }
        let centers = ctx.attributes.int("center_point_box") == 1
        let (batches, classes, n) = (boxes.shape[0], scores.shape[1], boxes.shape[1])
        let b = boxes.doubleValues, s = scores.doubleValues
        // Each box as (xmin, ymin, xmax, ymax).
        func corners(_ batch: Int, _ i: Int) -> (Double, Double, Double, Double) {
            let o = (batch * n + i) * 4
            if centers {
                let (cx, cy, w, h) = (b[o], b[o + 1], b[o + 2], b[o + 3])
                return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            }
            return (Swift.min(b[o + 1], b[o + 3]), Swift.min(b[o], b[o + 2]), Swift.max(b[o + 1], b[o + 3]), Swift.max(b[o], b[o + 2]))
        }
        func suppresses(_ p: (Double, Double, Double, Double), _ q: (Double, Double, Double, Double)) -> Bool {
            let ix0 = Swift.max(p.0, q.0), ix1 = Swift.min(p.2, q.2)
            guard ix1 > ix0 else { return false }
            let iy0 = Swift.max(p.1, q.1), iy1 = Swift.min(p.3, q.3)
            guard iy1 > iy0 else { return false }
            let inter = (ix1 - ix0) * (iy1 - iy0)
            let a1 = (p.2 - p.0) * (p.3 - p.1), a2 = (q.2 - q.0) * (q.3 - q.1)
            let union = a1 + a2 - inter
            guard inter > 0, a1 > 0, a2 > 0, union > 0 else { return false }
            return inter / union > iou
        }
        var selected: [Int64] = []
        for batch in 0..<batches {
            for c in 0..<classes {
                let base = (batch * classes + c) * n
                var candidates = (0..<n).filter { threshold == nil || s[base + $0] > threshold! }
                candidates.sort { s[base + $0] > s[base + $1] || (s[base + $0] == s[base + $1] && $0 < $1) }
                var kept: [(Double, Double, Double, Double)] = []
                for i in candidates {
                    guard kept.count < limit else { break }
                    let box = corners(batch, i)
                    if kept.contains(where: { suppresses(box, $0) }) { continue }
                    kept.append(box)
                    selected += [Int64(batch), Int64(c), Int64(i)]
                }
            }
        }
        return [Tensor(shape: [selected.count / 3, 3], ints: selected)]
    }
}
