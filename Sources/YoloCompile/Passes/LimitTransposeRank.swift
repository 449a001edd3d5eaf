/// Rewrites a Transpose of more than `maxAxes` dimensions (not counting a leading batch axis of size 1
/// that the permutation keeps in place), with the Reshapes around it, as a few Transposes of views with
/// at most `maxAxes` such dimensions, for runtimes with rank-limited tensors (ncnn: four besides the
/// batch). EfficientViT's window partition, for example:
///
///     %v = Reshape(%x, [1, C, nH, w, nW, w])               %a = Reshape(%x, [1, C*nH, w, nW, w])
///     %t = Transpose(%v, [0, 2, 4, 1, 3, 5])        ->     %b = Transpose(%a, [0, 1, 3, 2, 4])   (1, C*nH, nW, w, w)
///     %y = Reshape(%t, [nH*nW, C, w, w])                   %c = Reshape(%b, [1, C, nH*nW, w*w])
///                                                          %d = Transpose(%c, [0, 2, 1, 3])      (1, nH*nW, C, w*w)
///                                                          %y = Reshape(%d, [nH*nW, C, w, w])
///
/// Axes of size 1 are dropped and axes that stay neighbours are merged into blocks. While more blocks
/// remain than `maxAxes`, the two neighbouring blocks whose swap leaves the fewest blocks are swapped
/// (a view [before, A, B, after]); then one Transpose orders what remains. The batch axis stays in
/// front of every view, so runtimes that track it (pnnx) keep it. Pure data movement: exact. A
/// producing Reshape read only by the Transpose, and a consuming Reshape to a small enough rank, are
/// absorbed.
public func limitTransposeRankPass(_ maxAxes: Int) -> Pass {
    Pass(name: "limit-transpose-rank-\(maxAxes)") { g in
        try g.rewrite { r in
            func axes(_ shape: [Int]) -> Int { shape.first == 1 ? shape.count - 1 : shape.count }
            for i in r.indices where r.node(i).op == "Transpose" {
                let n = r.node(i)
                guard let x = r.input(i, 0), let s = r.type(x).staticShape, let out = n.outputs.first,
                      let outShape = r.type(out).staticShape else { continue }
                let p = try r.attributes(i).ints("perm") ?? Array((0..<s.count).reversed())
                let batch = s.first == 1 && p.first == 0
                guard p.count == s.count, (batch ? s.count - 1 : s.count) > maxAxes else { continue }
                // The source: the producing Reshape's input, when the Transpose is its only reader.
                var source = x
                if let pi = r.producer(of: x), r.node(pi).op == "Reshape", !r.hasOtherUses(x, except: i), let x0 = r.input(pi, 0) {
                    source = x0
                    r.erase(pi)
                }
                // The sink: a Reshape to a small enough rank, when it is the only reader.
                var sink = out, sinkShape = outShape
                let readers = r.readers(of: out)
                if readers.count == 1, !r.graph.outputs.contains(out), r.node(readers[0]).op == "Reshape",
                   let y = r.node(readers[0]).outputs.first, let ys = r.type(y).staticShape, axes(ys) <= maxAxes {
                    (sink, sinkShape) = (y, ys)
                    r.erase(readers[0])
                }
                var nodes: [Node] = []
                var current = source
                let dtype = r.type(x).dtype
                func reshape(_ v: ValueID, _ shape: [Int], _ result: ValueID? = nil) -> ValueID {
                    let c = r.addConstant(n.name + "_shape", .vector(shape), kind: .constant)
                    let o = result ?? r.addValue(n.name + "_view", TensorType(dtype, shape))
                    nodes.append(Node(op: "Reshape", name: r.uniqueNodeName(n.name + "_reshape"), inputs: [v, c], outputs: [o]))
                    return o
                }
                for step in transposeSteps(shape: s, perm: p, maxAxes: maxAxes) {
                    let view = batch ? [1] + step.view : step.view
                    let perm = batch ? [0] + step.perm.map { $0 + 1 } : step.perm
                    let v = reshape(current, view)
                    let t = r.addValue(n.name + "_swapped", TensorType(dtype, perm.map { view[$0] }))
                    nodes.append(Node(op: "Transpose", name: r.uniqueNodeName(n.name), inputs: [v], outputs: [t], attributes: ["perm": .ints(perm)]))
                    current = t
                }
                _ = reshape(current, sinkShape, sink)
                r.replace(i, with: nodes)
                r.changes.append("\(n.name): rank \(s.count) as \(nodes.filter { $0.op == "Transpose" }.count) Transposes of at most \(maxAxes) axes\(batch ? " and the batch" : "")")
            }
        }
    }
}

/// The views and permutations whose Transposes, in turn, permute `shape` by `perm` (a leading batch
/// axis of size 1 that stays first is left out: the caller puts it back in front of each view).
func transposeSteps(shape: [Int], perm: [Int], maxAxes: Int) -> [(view: [Int], perm: [Int])] {
    let batch = shape.first == 1 && perm.first == 0
    // Each unit an input axis of size above 1, in output order; units are merged while they stay neighbours.
    var size: [Int: Int] = [:]
    let order = perm.filter { !(batch && $0 == 0) && shape[$0] != 1 }
    for a in order { size[a] = shape[a] }
    var current = order.sorted()  // memory order
    let rank = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })  // position in the output
    /// Runs of `c` whose units are also consecutive in the output.
    func blocks(_ c: [Int]) -> [[Int]] {
        var b: [[Int]] = []
        for a in c {
            if let last = b.last?.last, let ra = rank[a], let rl = rank[last], ra == rl + 1 { b[b.count - 1].append(a) } else { b.append([a]) }
        }
        return b
    }
    func product(_ units: some Sequence<Int>) -> Int { units.reduce(1) { $0 * (size[$1] ?? 1) } }
    var steps: [(view: [Int], perm: [Int])] = []
    var b = blocks(current)
    while b.count > maxAxes {
        // Swap the neighbouring blocks that leave the fewest blocks (the innermost on a tie).
        var best: (count: Int, j: Int)? = nil
        for j in 0..<(b.count - 1) {
            var trial = b
            trial.swapAt(j, j + 1)
            let count = blocks(trial.flatMap { $0 }).count
            if let b = best, count > b.count { continue }
            best = (count, j)
        }
        guard let j = best?.j else { break }
        steps.append(([product(b[..<j].joined()), product(b[j]), product(b[j + 1]), product(b[(j + 2)...].joined())], [0, 2, 1, 3]))
        b.swapAt(j, j + 1)
        current = b.flatMap { $0 }
        b = blocks(current)
    }
    // One Transpose orders the rest: blocks in memory order, permuted to their output order.
    let target = b.indices.sorted { (rank[b[$0][0]] ?? 0) < (rank[b[$1][0]] ?? 0) }
    if target != Array(b.indices) { steps.append((b.map { product($0) }, target)) }
    return steps
}

extension Pass {
    /// ncnn: four axes besides the batch.
    public static let limitTransposeRank4 = limitTransposeRankPass(4)
}
