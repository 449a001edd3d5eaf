/// Rewrites a Transpose of rank above `maxRank` (with the Reshapes around it) as Transposes of rank-4
/// views, for runtimes whose tensors have at most four dimensions (ncnn). EfficientViT's window
/// partition, for example:
///
///     %v = Reshape(%x, [1, C, nH, w, nW, w])               %a = Reshape(%x, [1, C, nH, w*nW*w])
///     %t = Transpose(%v, [0, 2, 4, 1, 3, 5])        ->     %b = Transpose(%a, [0, 2, 1, 3])     (1, nH, C, w*nW*w)
///     %y = Reshape(%t, [nH*nW, C, w, w])                   %c = Reshape(%b, [nH, C*w, nW, w])
///                                                          %d = Transpose(%c, [0, 2, 1, 3])     (nH, nW, C*w, w)
///                                                          %y = Reshape(%d, [nH*nW, C, w, w])
///
/// Axes of size 1 are dropped and axes that stay neighbours are merged; what remains is sorted into
/// the output order by swapping adjacent blocks of axes, each swap a (0, 2, 1, 3) Transpose of the
/// 4-D view [before, block A, block B, after]. Pure data movement: exact. A producing Reshape read
/// only by the Transpose, and a consuming Reshape to rank `maxRank` or less, are absorbed.
public func limitTransposeRankPass(_ maxRank: Int) -> Pass {
    Pass(name: "limit-transpose-rank-\(maxRank)") { g in
        try g.rewrite { r in
            for i in r.indices where r.node(i).op == "Transpose" {
                let n = r.node(i)
                guard let x = r.input(i, 0), let s = r.type(x).staticShape, s.count > maxRank,
                      let out = n.outputs.first, let outShape = r.type(out).staticShape else { continue }
                let p = try r.attributes(i).ints("perm") ?? Array((0..<s.count).reversed())
                guard p.count == s.count else { continue }
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
                   let y = r.node(readers[0]).outputs.first, let ys = r.type(y).staticShape, ys.count <= maxRank {
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
                for view in blockSwaps(shape: s, perm: p) {
                    let v = reshape(current, view)
                    let t = r.addValue(n.name + "_swapped", TensorType(dtype, [view[0], view[2], view[1], view[3]]))
                    nodes.append(Node(op: "Transpose", name: r.uniqueNodeName(n.name), inputs: [v], outputs: [t],
                                      attributes: ["perm": .ints([0, 2, 1, 3])]))
                    current = t
                }
                _ = reshape(current, sinkShape, sink)
                r.replace(i, with: nodes)
                r.changes.append("\(n.name): rank \(s.count) as \(nodes.filter { $0.op == "Transpose" }.count) rank-4 Transposes")
            }
        }
    }
}

/// The 4-D views [before, A, B, after] whose (0, 2, 1, 3) transposes, in turn, permute `shape` by `perm`.
func blockSwaps(shape: [Int], perm: [Int]) -> [[Int]] {
    // Drop size-1 axes, then merge input axes that stay neighbours in the output.
    let kept = perm.filter { shape[$0] != 1 }
    var groups: [[Int]] = []  // runs of input axes, in output order
    for a in kept {
        if let last = groups.last?.last, a == last + 1 { groups[groups.count - 1].append(a) } else { groups.append([a]) }
    }
    // Groups in input order; `target` is the output order as indices into it.
    let inputOrder = groups.sorted { $0[0] < $1[0] }
    let size = inputOrder.map { $0.reduce(1) { $0 * shape[$1] } }
    let target = groups.map { g in inputOrder.firstIndex(of: g) ?? 0 }
    var current = Array(inputOrder.indices)
    var views: [[Int]] = []
    func product(_ ids: ArraySlice<Int>) -> Int { ids.reduce(1) { $0 * size[$1] } }
    for pos in target.indices {
        guard let j = current.firstIndex(of: target[pos]), j != pos else { continue }
        // B: the longest run at j already in target order; A: what lies before it from pos.
        var k = j
        while k + 1 < current.count, pos + (k + 1 - j) < target.count, current[k + 1] == target[pos + (k + 1 - j)] { k += 1 }
        views.append([product(current[..<pos]), product(current[pos..<j]), product(current[j...k]), product(current[(k + 1)...])])
        current = Array(current[..<pos]) + Array(current[j...k]) + Array(current[pos..<j]) + Array(current[(k + 1)...])
    }
    return views
}

extension Pass {
    public static let limitTransposeRank4 = limitTransposeRankPass(4)
}
