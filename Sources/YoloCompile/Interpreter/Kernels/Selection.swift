/// ArgMax, ArgMin, TopK and NonZero.
extension Kernels {
    /// The index of the first (or, with select_last_index, last) maximum or minimum along the axis;
    /// NaN counts as the extreme, as numpy's argmax and argmin count it.
    static func argReduce(max: Bool) -> Kernel {
        { ctx in
            let x = try ctx.input(0)
            let axis = normalizedAxis(ctx, x.shape.count)
            let (outer, n, inner) = around(x.shape, axis)
            let last = ctx.attributes.int("select_last_index") != 0
            let out = try ctx.outputShape()
            guard n > 0 else { throw ctx.fail("\(ctx.node.op) over an empty axis has no answer") }
            // Integers compare exactly (uint64 unsigned); floats as Double, which holds every float exactly.
            let key: (Int) -> Double
            switch x.dtype.storage {
            case .floats: key = { Double(x.floats[$0]) }
            case .doubles: key = { x.doubles[$0] }
            case .ints: key = { _ in 0 }
            }
            var y = [Int64](repeating: 0, count: outer * inner)
            for o in 0..<outer {
                for i in 0..<inner {
                    var best = 0
                    for j in 1..<n {
                        let a = o * n * inner + j * inner + i, b = o * n * inner + best * inner + i
                        let better: Bool, tie: Bool
                        if x.dtype.storage == .ints {
                            let (p, q) = (x.ints[a], x.ints[b])
                            if x.dtype == .uint64 {
                                let (up, uq) = (UInt64(bitPattern: p), UInt64(bitPattern: q))
                                better = max ? up > uq : up < uq
                            } else {
                                better = max ? p > q : p < q
                            }
                            tie = p == q
                        } else {
                            let (p, q) = (key(a), key(b))
                            if q.isNaN { better = false; tie = p.isNaN } else if p.isNaN { better = true; tie = false } else {
                                better = max ? p > q : p < q
                                tie = p == q
                            }
                        }
                        if better || (last && tie) { best = j }
                    }
                    y[o * inner + i] = Int64(best)
                }
            }
            return [Tensor(shape: out, ints: y)]
        }
    }

    /// The k largest (or smallest) along the axis, in order; equal values keep their index order.
    static let topK: Kernel = { ctx in
        let x = try ctx.input(0)
        let out = try ctx.outputShape()
        let axis = normalizedAxis(ctx, x.shape.count)
        let (outer, n, inner) = around(x.shape, axis)
        let k = out[axis]
        let largest = ctx.attributes.int("largest") != 0
        let v = x.doubleValues
        let unsigned = x.dtype == .uint64
        /// A strict order in which NaN is above every number (as numpy sorts it).
        func less(_ a: Int, _ b: Int) -> Bool {
            if x.dtype.storage == .ints {
                return unsigned ? UInt64(bitPattern: x.ints[a]) < UInt64(bitPattern: x.ints[b]) : x.ints[a] < x.ints[b]
            }
            if v[a].isNaN { return false }
            if v[b].isNaN { return true }
            return v[a] < v[b]
        }
        var picked: [Int] = []
        var indices: [Int64] = []
        picked.reserveCapacity(outer * k * inner)
        var order = [[Int]](repeating: [], count: outer * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                let pos = (0..<n).map { o * n * inner + $0 * inner + i }
                let sorted = (0..<n).sorted { a, b in
                    let (pa, pb) = (pos[a], pos[b])
                    if largest ? less(pb, pa) : less(pa, pb) { return true }
                    if largest ? less(pa, pb) : less(pb, pa) { return false }
                    return a < b
                }
                order[o * inner + i] = Array(sorted.prefix(k))
            }
        }
        for o in 0..<outer {
            for j in 0..<k {
                for i in 0..<inner {
                    let s = order[o * inner + i][j]
                    picked.append(o * n * inner + s * inner + i)
                    indices.append(Int64(s))
                }
            }
        }
        return [x.gathered(picked, shape: out), Tensor(shape: out, ints: indices)]
    }

    /// The indices of the non-zero elements, one row per axis, in row-major order.
    static let nonZero: Kernel = { ctx in
        let x = try ctx.input(0)
        let rank = x.shape.count
        var hits: [Int] = []
        switch x.dtype.storage {
        case .floats: for (i, e) in x.floats.enumerated() where e != 0 { hits.append(i) }
        case .doubles: for (i, e) in x.doubles.enumerated() where e != 0 { hits.append(i) }
        case .ints: for (i, e) in x.ints.enumerated() where e != 0 { hits.append(i) }
        }
        let strides = contiguousStrides(x.shape)
        var y = [Int64](repeating: 0, count: rank * hits.count)
        for (j, flat) in hits.enumerated() {
            var r = flat
            for a in 0..<rank {
                y[a * hits.count + j] = Int64(r / strides[a])
                r %= strides[a]
            }
        }
        return [Tensor(shape: [rank, hits.count], ints: y)]
    }
}
