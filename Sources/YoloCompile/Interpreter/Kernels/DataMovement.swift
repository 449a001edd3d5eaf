import CKernels

/// Kernels of the operators that move data without arithmetic (Operators/Layout.swift): each is a
/// strided view made contiguous, an index map gathered, or a copy of blocks.
extension Kernels {
    static let reshape: Kernel = { ctx in [try ctx.input(0).reshaped(try ctx.outputShape())] }

    static let shape: Kernel = { ctx in
        let s = try ctx.input(0).shape
        let (lo, hi) = Operators.shapeRange(ctx.attributes, rank: s.count)
        return [.vector(Array(s[lo..<hi]))]
    }

    static let size: Kernel = { ctx in [Tensor(shape: [], ints: [Int64(try ctx.input(0).count)])] }

    static let transpose: Kernel = { ctx in
        let x = try ctx.input(0)
        let perm = ctx.attributes.ints("perm") ?? Array((0..<x.shape.count).reversed())
        let src = contiguousStrides(x.shape)
        return [x.strided(shape: perm.map { x.shape[$0] }, offset: 0, steps: perm.map { src[$0] })]
    }

    static let slice: Kernel = { ctx in
        let x = try ctx.input(0)
        guard let p = ShapeRules.sliceParameters(
            shape: x.shape, starts: try ctx.input(1).intValues, ends: try ctx.input(2).intValues,
            axes: ctx.optional(3)?.intValues, steps: ctx.optional(4)?.intValues)
        else { throw ctx.fail("invalid slice") }
        let src = contiguousStrides(x.shape)
        let offset = zip(p.start, src).reduce(0) { $0 + $1.0 * $1.1 }
        // A step past the axis's size reads one element, as a step of the size does; clamped so the
        // file's step (up to 2^63) cannot overflow the stride.
        let steps = zip(zip(p.step, src), x.shape).map { ps, d in Swift.min(Swift.max(ps.0, -Swift.max(d, 1)), Swift.max(d, 1)) * ps.1 }
        return [x.strided(shape: p.count, offset: offset, steps: steps)]
    }

    static let concat: Kernel = { ctx in
        let parts = try ctx.inputs.indices.map { try ctx.input($0) }
        let out = try ctx.outputShape()
        var axis = ctx.attributes.int("axis")
        if axis < 0 { axis += out.count }
        let outer = out[..<axis].reduce(1, *)
        let blocks = parts.map { $0.shape[axis...].reduce(1, *) }
        let threads = ctx.threads
        /// Each (outer index, part) block copied to its place: one task per part when there are few
        /// outer indices (a channel concat), else ranges of outer indices split across threads.
        func join<T>(_ arrays: [[T]]) -> [T] {
            let total = out.reduce(1, *), row = blocks.reduce(0, +)
            guard total > 0 else { return [] }
            var starts = [0]
            for n in blocks { starts.append(starts.last! + n) }
            let sources = arrays.map { $0.withUnsafeBufferPointer { $0.baseAddress } }  // the arrays outlive the copy
            return [T](unsafeUninitializedCapacity: total) { yb, initialized in
                let yp = yb.baseAddress!
                func copy(_ o: Int, _ part: Int) {
                    let n = blocks[part]
                    if n > 0, let src = sources[part] { (yp + o * row + starts[part]).initialize(from: src + o * n, count: n) }
                }
                let threads = total >= 1 << 15 ? threads : 1
                if outer < threads * 4 {
                    parallelTasks(outer * arrays.count, threads: threads) { _, t in copy(t / arrays.count, t % arrays.count) }
                } else {
                    parallelRanges(outer, threads: threads, grain: Swift.max(1, (1 << 14) / Swift.max(row, 1))) { range in
                        for o in range { for part in arrays.indices { copy(o, part) } }
                    }
                }
                initialized = total
            }
        }
        var t = parts[0]
        t.shape = out
        switch t.dtype.storage {
        case .floats: t.floats = join(parts.map(\.floats))
        case .doubles: t.doubles = join(parts.map(\.doubles))
        case .ints: t.ints = join(parts.map(\.ints))
        }
        return [t]
    }

    static let split: Kernel = { ctx in
        let x = try ctx.input(0)
        var axis = ctx.attributes.int("axis")
        if axis < 0 { axis += x.shape.count }
        let outer = x.shape[..<axis].reduce(1, *)
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        let total = x.shape[axis] * inner
        var start = 0
        return ctx.outputTypes.map { ot in
            let n = ot.shape[axis] * inner
            defer { start += n }
            func take<T>(_ v: [T]) -> [T] {
                guard outer * n > 0 else { return [] }
                return [T](unsafeUninitializedCapacity: outer * n) { yb, initialized in
                    v.withUnsafeBufferPointer { vb in
                        let (vp, yp) = (vb.baseAddress!, yb.baseAddress!)
                        parallelRanges(outer, threads: ctx.threads, grain: Swift.max(1, (1 << 14) / n)) { range in
                            for o in range { (yp + o * n).initialize(from: vp + o * total + start, count: n) }
                        }
                    }
                    initialized = outer * n
                }
            }
            var t = x
            t.shape = ot.shape
            switch x.dtype.storage {
            case .floats: t.floats = take(x.floats)
            case .doubles: t.doubles = take(x.doubles)
            case .ints: t.ints = take(x.ints)
            }
            return t
        }
    }

    static let expand: Kernel = { ctx in
        let x = try ctx.input(0)
        let out = try ctx.outputShape()
        return [x.gathered(broadcastIndex(x.shape, out), shape: out)]
    }

    static let tile: Kernel = { ctx in
        let x = try ctx.input(0)
        let out = try ctx.outputShape()
        let src = contiguousStrides(x.shape)
        return [x.gathered(mapIndices(out) { pos in
            var flat = 0
            for a in 0..<pos.count { flat += (pos[a] % x.shape[a]) * src[a] }
            return flat
        }, shape: out)]
    }

    /// constant fills with the value; edge repeats the border; reflect mirrors without repeating it;
    /// wrap continues periodically. Negative pads crop.
    static let pad: Kernel = { ctx in
        let x = try ctx.input(0)
        let out = try ctx.outputShape()
        let (begin, end) = try Operators.resolvedPads(try ctx.input(1).intValues, axes: ctx.optional(3)?.intValues,
                                                      rank: x.shape.count, fail: ctx.fail)
        let mode = ctx.attributes.string("mode")
        if mode == "constant", x.dtype.storage == .floats, x.shape.count >= 1, x.count > 0,
           begin.allSatisfy({ $0 >= 0 }), end.allSatisfy({ $0 >= 0 }) {
            return [Tensor(shape: out, floats: padConstant(x.floats, x.shape, out, begin, value: ctx.optional(2)?.floats.first ?? 0,
                                                           threads: ctx.threads), dtype: x.dtype)]
        }
        let src = contiguousStrides(x.shape)
        // Per axis, the source position of each output position (-1: the constant).
        let maps: [[Int]] = (0..<x.shape.count).map { a in
            let n = x.shape[a]
            return (0..<out[a]).map { o in
                var i = o - begin[a]
                if i >= 0 && i < n { return i }
                switch mode {
                case "edge": return i < 0 ? 0 : n - 1
                case "wrap": i %= n; return i < 0 ? i + n : i
                case "reflect":
                    if n == 1 { return 0 }
                    let period = 2 * (n - 1)
                    i %= period
                    if i < 0 { i += period }
                    return i < n ? i : period - i
                default: return -1
                }
            }
        }
        var constant = false
        let indices = mapIndices(out) { pos in
            var flat = 0
            for a in 0..<pos.count {
                let i = maps[a][pos[a]]
                if i < 0 { return -1 }
                flat += i * src[a]
            }
            return flat
        }
        if indices.contains(-1) { constant = true }
        guard constant else { return [x.gathered(indices, shape: out)] }
        // Gather with the constant appended as one extra element.
        let value = ctx.optional(2)
        var extended = x.reshaped([x.count])
        switch x.dtype.storage {
        case .floats: extended.floats.append(value?.floats.first ?? 0)
        case .doubles: extended.doubles.append(value?.doubles.first ?? 0)
        case .ints: extended.ints.append(value?.ints.first ?? 0)
        }
        extended.shape = [x.count + 1]
        return [extended.gathered(indices.map { $0 < 0 ? x.count : $0 }, shape: out)]
    }

    /// Constant padding that only grows: the output filled with the value, then each input row (the
    /// last axis) copied to its place, rows split across threads.
    static func padConstant(_ x: [Float], _ shape: [Int], _ out: [Int], _ begin: [Int], value: Float, threads: Int) -> [Float] {
        let total = out.reduce(1, *), rank = shape.count
        let inner = shape[rank - 1], rows = x.count / inner
        let outStrides = contiguousStrides(out)
        return [Float](unsafeUninitializedCapacity: total) { yb, initialized in
            x.withUnsafeBufferPointer { xb in
                let (xp, yp) = (xb.baseAddress!, yb.baseAddress!)
                parallelRanges(total, threads: threads) { r in (yp + r.lowerBound).initialize(repeating: value, count: r.count) }
                parallelRanges(rows, threads: threads, grain: Swift.max(1, (1 << 14) / inner)) { range in
                    for row in range {
                        var r = row, at = begin[rank - 1]
                        for d in stride(from: rank - 2, through: 0, by: -1) {
                            at += (r % shape[d] + begin[d]) * outStrides[d]
                            r /= shape[d]
                        }
                        (yp + at).update(from: xp + row * inner, count: inner)
                    }
                }
            }
            initialized = total
        }
    }

    /// DCR: depth is (block_row, block_col, channel); CRD: (channel, block_row, block_col).
    static let depthToSpace: Kernel = { ctx in
        let x = try ctx.input(0)
        let out = try ctx.outputShape()
        let b = ctx.attributes.int("blocksize")
        let crd = ctx.attributes.string("mode") == "CRD"
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        let oc = out[1]
        return [x.gathered(mapIndices(out) { p in
            let (n, ch, y, xx) = (p[0], p[1], p[2], p[3])
            let (by, bx) = (y % b, xx % b)
            let depth = crd ? ch * b * b + by * b + bx : (by * b + bx) * oc + ch
            return ((n * c + depth) * h + y / b) * w + xx / b
        }, shape: out)]
    }

    static let spaceToDepth: Kernel = { ctx in
        let x = try ctx.input(0)
        let out = try ctx.outputShape()
        let b = ctx.attributes.int("blocksize")
        let (c, h, w) = (x.shape[1], x.shape[2], x.shape[3])
        return [x.gathered(mapIndices(out) { p in
            let (n, depth, y, xx) = (p[0], p[1], p[2], p[3])
            let block = depth / c, ch = depth % c
            return ((n * c + ch) * h + y * b + block / b) * w + xx * b + block % b
        }, shape: out)]
    }

    /// Keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last two axes; zeros the rest.
    static let trilu: Kernel = { ctx in
        let x = try ctx.input(0)
        let k = ctx.optional(1)?.intValues.first ?? 0
        let upper = ctx.attributes.int("upper") != 0
        let rank = x.shape.count
        let (rows, cols) = (x.shape[rank - 2], x.shape[rank - 1])
        var keep = [Bool](repeating: false, count: x.count)
        for i in 0..<x.count {
            let j = i % cols, r = (i / cols) % Swift.max(rows, 1)
            keep[i] = upper ? j - r >= k : j - r <= k
        }
        var y = x
        switch x.dtype.storage {
        case .floats: for i in keep.indices where !keep[i] { y.floats[i] = 0 }
        case .doubles: for i in keep.indices where !keep[i] { y.doubles[i] = 0 }
        case .ints: for i in keep.indices where !keep[i] { y.ints[i] = 0 }
        }
        return [y]
    }
}

/// For every position of `shape` (row-major), `f` of its multi-index.
func mapIndices(_ shape: [Int], _ f: ([Int]) -> Int) -> [Int] {
    let n = shape.reduce(1, *)
    var result = [Int](repeating: 0, count: n)
    guard n > 0 else { return result }
    var pos = [Int](repeating: 0, count: shape.count)
    for i in 0..<n {
        result[i] = f(pos)
        var a = shape.count - 1
        while a >= 0 { pos[a] += 1; if pos[a] < shape[a] { break }; pos[a] = 0; a -= 1 }
    }
    return result
}

extension Tensor {
    /// `shape` elements read from `offset` with per-axis `steps`: a strided view made contiguous.
    func strided(shape: [Int], offset: Int, steps: [Int]) -> Tensor {
        var t = self
        t.shape = shape
        switch dtype.storage {
        case .floats: t.floats = gatherStridedFloats(floats, shape, offset, steps)
        case .doubles: t.doubles = gatherStrided(doubles, shape, offset, steps)
        case .ints: t.ints = gatherStrided(ints, shape, offset, steps)
        }
        return t
    }
}

/// `gatherStrided` for float32, where a transpose moves the source's contiguous axis away from the
/// last: each 2-D slice of (that axis, the last) runs as a transpose in cache-sized blocks
/// (Sources/CKernels/transpose.c), reading and writing whole cache lines, the slices split across threads.
func gatherStridedFloats(_ x: [Float], _ shape: [Int], _ offset: Int, _ steps: [Int]) -> [Float] {
    let rank = shape.count
    guard rank >= 2, shape[rank - 1] > 1, steps[rank - 1] != 1,
          let j = (0..<(rank - 1)).last(where: { steps[$0] == 1 && shape[$0] > 1 }), !x.isEmpty
    else { return gatherStrided(x, shape, offset, steps) }
    let count = shape.reduce(1, *)
    let strides = contiguousStrides(shape)
    let outer = (0..<(rank - 1)).filter { $0 != j }
    let slices = outer.reduce(1) { $0 * shape[$1] }
    let (ni, nj) = (shape[rank - 1], shape[j])
    return [Float](unsafeUninitializedCapacity: count) { yb, initialized in
        x.withUnsafeBufferPointer { xb in
            let (xp, yp) = (xb.baseAddress!, yb.baseAddress!)
            parallelRanges(slices, threads: KernelThreads.count, grain: Swift.max(1, (1 << 14) / (ni * nj))) { range in
                for slice in range {
                    var r = slice, from = offset, to = 0
                    for a in outer.reversed() {
                        let i = r % shape[a]
                        r /= shape[a]
                        from += i * steps[a]
                        to += i * strides[a]
                    }
                    yc_transpose_floats(xp + from, steps[rank - 1], yp + to, strides[j], ni, nj)
                }
            }
        }
        initialized = count
    }
}

/// Reads `shape` elements starting at `offset` with per-dimension `steps` (a strided view made
/// contiguous), its rows (the last axis) split across the task's `KernelThreads`.
func gatherStrided<T>(_ x: [T], _ shape: [Int], _ offset: Int, _ steps: [Int]) -> [T] {
    let count = shape.reduce(1, *)
    if count == 0 { return [] }
    let rank = shape.count
    if rank == 0 { return [x[offset]] }
    let inner = shape[rank - 1], step = steps[rank - 1]
    guard inner > 0 else { return [] }
    let rows = count / inner
    return [T](unsafeUninitializedCapacity: count) { yb, initialized in
        x.withUnsafeBufferPointer { xb in
            let (xp, yp) = (xb.baseAddress!, yb.baseAddress!)
            parallelRanges(rows, threads: KernelThreads.count, grain: Swift.max(1, (1 << 14) / inner)) { range in
                // The first row's multi-index and source offset.
                var index = [Int](repeating: 0, count: rank)
                var off = offset, r = range.lowerBound
                for d in stride(from: rank - 2, through: 0, by: -1) {
                    index[d] = r % shape[d]
                    r /= shape[d]
                    off += index[d] * steps[d]
                }
                for row in range {
                    let dst = yp + row * inner
                    if step == 1 {
                        dst.initialize(from: xp + off, count: inner)
                    } else {
                        var p = off
                        for i in 0..<inner { (dst + i).initialize(to: xp[p]); p += step }
                    }
                    var d = rank - 2
                    while d >= 0 {
                        index[d] += 1
                        off += steps[d]
                        if index[d] < shape[d] { break }
                        off -= steps[d] * shape[d]
                        index[d] = 0
                        d -= 1
                    }
                }
            }
        }
        initialized = count
    }
}
