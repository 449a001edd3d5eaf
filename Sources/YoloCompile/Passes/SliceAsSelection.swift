/// Writes Split and Slice as selections by MatMul, for runtimes with neither (libonnx): along the
/// sliced axis the input is viewed as (P, D, Q) and multiplied by a 0/1 matrix with one 1 per row,
/// so each output element is one input element times 1 plus others times 0: exact for finite values.
///
///     %a, %b = Split(%x, [512, 1024], axis=1)   ->   %v = Reshape(%x, [1, 3, 512*H*W])
///                                                   %a = Reshape(MatMul([[1, 0, 0]], %v), ...)
///                                                   %b = Reshape(MatMul([[0, 1, 0], [0, 0, 1]], %v), ...)
///
/// The axis is first cut into blocks of the largest size dividing every boundary (512 above), and a
/// strided slice (Focus's x[..., ::2, :]) picks one position of each stride, so the matrices stay small.
/// Slices with negative steps, or whose inputs are not constant, are left alone.
public let sliceAsSelectionPass = Pass(name: "slice-as-selection") { g in
    try g.rewrite { r in
        for i in r.indices where ["Split", "Slice"].contains(r.node(i).op) {
            let n = r.node(i)
            guard let x = r.input(i, 0), let shape = r.type(x).staticShape, r.type(x).dtype == .float32 else { continue }
            // Each output as (axis, start, step) per sliced axis.
            var plans: [[(axis: Int, start: Int, step: Int)]] = []
            if n.op == "Split" {
                let a = try r.attributes(i).int("axis")
                let axis = a < 0 ? a + shape.count : a
                var start = 0
                for out in n.outputs {
                    guard let len = r.type(out).staticShape?[axis] else { break }
                    plans.append([(axis, start, 1)])
                    start += len
                }
                guard plans.count == n.outputs.count else { continue }
            } else {
                guard let starts = r.constant(r.input(i, 1))?.ints, let axes = (r.input(i, 3).map { r.constant($0)?.ints } ?? .some(starts.indices.map(Int64.init))),
                      let steps = (r.input(i, 4).map { r.constant($0)?.ints } ?? .some(starts.map { _ in 1 })) else { continue }
                var plan: [(axis: Int, start: Int, step: Int)] = []
                for (k, a) in axes.enumerated() {
                    let axis = Int(a) < 0 ? Int(a) + shape.count : Int(a), d = shape[axis]
                    guard steps[k] > 0 else { plan = []; break }
                    var s = Int(starts[k])
                    if s < 0 { s += d }
                    plan.append((axis, min(max(s, 0), d), Int(steps[k])))
                }
                guard !plan.isEmpty else { continue }
                plans = [plan]
            }
            var nodes: [Node] = []
            for (out, plan) in zip(n.outputs, plans) {
                guard let outShape = r.type(out).staticShape else { continue }
                var current = x, currentShape = shape
                for (k, p) in plan.enumerated() {
                    var nextShape = currentShape
                    nextShape[p.axis] = outShape[p.axis]
                    let last = k == plan.count - 1
                    let result = last ? out : r.addValue(n.name + "_selected", TensorType(.float32, nextShape))
                    nodes += selection(&r, n.name, current, currentShape, p, length: outShape[p.axis], into: result, resultShape: nextShape)
                    (current, currentShape) = (result, nextShape)
                }
            }
            r.replace(i, with: nodes)
            r.changes.append("\(n.name): \(n.outputs.count) selection\(n.outputs.count == 1 ? "" : "s")")
        }
    }
}

/// Reshape -> MatMul by a 0/1 matrix -> Reshape, taking `length` elements from `start` by `step` along `axis`.
private func selection(_ r: inout GraphRewriter, _ name: String, _ x: ValueID, _ shape: [Int], _ p: (axis: Int, start: Int, step: Int),
                       length: Int, into result: ValueID, resultShape: [Int]) -> [Node] {
    let d = shape[p.axis]
    let before = shape[..<p.axis].reduce(1, *), after = shape[(p.axis + 1)...].reduce(1, *)
    var view: [Int], rows: Int, columns: Int, picks: [Int]
    if p.step == 1 {
        // Blocks of g along the axis: the largest size dividing the axis, the start and the length.
        let g = [p.start, length].reduce(d) { gcd($0, $1) }
        (view, rows, columns) = ([before, d / g, g * after], length / g, d / g)
        picks = (0..<rows).map { p.start / g + $0 }
    } else if d % p.step == 0, p.start < p.step, length == d / p.step {
        // One position of each stride: (before * d/step, step, after).
        (view, rows, columns) = ([before * (d / p.step), p.step, after], 1, p.step)
        picks = [p.start]
    } else {
        (view, rows, columns) = ([before, d, after], length, d)
        picks = (0..<length).map { p.start + $0 * p.step }
    }
    var matrix = [Float](repeating: 0, count: rows * columns)
    for (row, column) in picks.enumerated() { matrix[row * columns + column] = 1 }
    let viewShape = r.addConstant(name + "_view_shape", .vector(view), kind: .constant)
    let select = r.addConstant(name + "_selection", Tensor(shape: [rows, columns], floats: matrix), kind: .constant)
    let outShape = r.addConstant(name + "_shape", .vector(resultShape), kind: .constant)
    let viewed = r.addValue(name + "_view", TensorType(.float32, view))
    let picked = r.addValue(name + "_picked", TensorType(.float32, [view[0], rows, view[2]]))
    return [
        Node(op: "Reshape", name: r.uniqueNodeName(name + "_reshape"), inputs: [x, viewShape], outputs: [viewed]),
        Node(op: "MatMul", name: r.uniqueNodeName(name + "_select"), inputs: [select, viewed], outputs: [picked]),
        Node(op: "Reshape", name: r.uniqueNodeName(name + "_reshape_back"), inputs: [picked, outShape], outputs: [result]),
    ]
}

extension Pass {
    public static let sliceAsSelection = sliceAsSelectionPass
}
