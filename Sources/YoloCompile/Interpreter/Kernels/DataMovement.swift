/// Operators that move data without arithmetic: Concat, Split, Slice, Reshape, Transpose, Resize,
/// and the shape-plumbing ones PyTorch's exporter emits (Shape, Gather, Unsqueeze, Squeeze, Cast).
func registerDataMovement(_ t: inout [String: Kernel]) {
    t["Reshape"] = { ctx in [try ctx.input(0).reshaped(ctx.outputTypes[0].shape)] }
    t["Flatten"] = t["Reshape"]
    t["Unsqueeze"] = t["Reshape"]
    t["Squeeze"] = t["Reshape"]
    t["Shape"] = { ctx in [Tensor.vector(try ctx.input(0).shape)] }
    t["Cast"] = { ctx in
        let x = try ctx.input(0)
        let to = ctx.outputTypes[0].dtype
        if to.isFloat { return [Tensor(shape: x.shape, floats: x.floatValues)] }
        let ints = x.isFloat ? x.intValues.map(Int64.init) : x.ints
        return [Tensor(shape: x.shape, ints: to == .bool ? ints.map { $0 != 0 ? 1 : 0 } : ints, dtype: to)]
    }
    t["Concat"] = { ctx in
        let parts = try ctx.inputs.indices.map { try ctx.input($0) }
        let out = ctx.outputTypes[0]
        var axis = ctx.node.int("axis", default: 0)
        if axis < 0 { axis += out.rank }
        let outer = out.shape[..<axis].reduce(1, *)
        let blocks = parts.map { $0.shape[axis...].reduce(1, *) }
        if out.dtype.isFloat {
            var y = [Float]()
            y.reserveCapacity(out.count)
            for o in 0..<outer { for (p, n) in zip(parts, blocks) { y.append(contentsOf: p.floatValues[(o * n)..<((o + 1) * n)]) } }
            return [Tensor(shape: out.shape, floats: y)]
        }
        var y = [Int64]()
        for o in 0..<outer { for (p, n) in zip(parts, blocks) { y.append(contentsOf: p.ints[(o * n)..<((o + 1) * n)]) } }
        return [Tensor(shape: out.shape, ints: y, dtype: out.dtype)]
    }
    t["Split"] = { ctx in
        let x = try ctx.input(0)
        var axis = ctx.node.int("axis", default: 0)
        if axis < 0 { axis += x.shape.count }
        let outer = x.shape[..<axis].reduce(1, *)
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        let total = x.shape[axis] * inner
        var start = 0
        return ctx.outputTypes.map { ot in
            let n = ot.shape[axis] * inner
            defer { start += n }
            func take<T>(_ v: [T]) -> [T] {
                var y = [T]()
                y.reserveCapacity(outer * n)
                for o in 0..<outer { y.append(contentsOf: v[(o * total + start)..<(o * total + start + n)]) }
                return y
            }
            return x.isFloat ? Tensor(shape: ot.shape, floats: take(x.floats)) : Tensor(shape: ot.shape, ints: take(x.ints), dtype: x.dtype)
        }
    }
    t["Slice"] = { ctx in
        let x = try ctx.input(0)
        guard let p = ShapeRules.sliceParameters(
            shape: x.shape, starts: try ctx.input(1).intValues, ends: try ctx.input(2).intValues,
            axes: ctx.optional(3)?.intValues, steps: ctx.optional(4)?.intValues)
        else { throw ctx.fail("invalid slice") }
        let src = contiguousStrides(x.shape)
        let offset = zip(p.start, src).reduce(0) { $0 + $1.0 * $1.1 }
        let steps = zip(p.step, src).map { $0 * $1 }
        return [x.isFloat
            ? Tensor(shape: p.count, floats: gatherStrided(x.floats, p.count, offset, steps))
            : Tensor(shape: p.count, ints: gatherStrided(x.ints, p.count, offset, steps), dtype: x.dtype)]
    }
    t["Transpose"] = { ctx in
        let x = try ctx.input(0)
        let perm = ctx.node.ints("perm") ?? Array((0..<x.shape.count).reversed())
        let src = contiguousStrides(x.shape)
        let shape = perm.map { x.shape[$0] }
        let steps = perm.map { src[$0] }
        return [x.isFloat
            ? Tensor(shape: shape, floats: gatherStrided(x.floats, shape, 0, steps))
            : Tensor(shape: shape, ints: gatherStrided(x.ints, shape, 0, steps), dtype: x.dtype)]
    }
    t["Gather"] = { ctx in
        let x = try ctx.input(0), idx = try ctx.input(1).intValues
        var axis = ctx.node.int("axis", default: 0)
        if axis < 0 { axis += x.shape.count }
        let dim = x.shape[axis]
        let outer = x.shape[..<axis].reduce(1, *)
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        let out = ctx.outputTypes[0].shape
        var fy = [Float](), iy = [Int64]()
        for o in 0..<outer {
            for i in idx {
                let j = i < 0 ? i + dim : i
                guard j >= 0 && j < dim else { throw ctx.fail("index \(i) out of range for axis of size \(dim)") }
                let r = (o * dim + j) * inner..<(o * dim + j + 1) * inner
                if x.isFloat { fy.append(contentsOf: x.floats[r]) } else { iy.append(contentsOf: x.ints[r]) }
            }
        }
        return [x.isFloat ? Tensor(shape: out, floats: fy) : Tensor(shape: out, ints: iy, dtype: x.dtype)]
    }
    t["Pad"] = { ctx in
        // Constant mode: the output is filled with the value, then the input is copied in row by row.
        let x = try ctx.input(0), pads = try ctx.input(1).intValues
        let value = ctx.optional(2)?.floatValues.first ?? 0
        let rank = x.shape.count
        let axes = (ctx.optional(3)?.intValues ?? Array(0..<rank)).map { $0 < 0 ? $0 + rank : $0 }
        var begin = [Int](repeating: 0, count: rank)
        for (j, a) in axes.enumerated() { begin[a] = pads[j] }
        let out = ctx.outputTypes[0].shape
        var y = [Float](repeating: value, count: out.reduce(1, *))
        guard x.count > 0, rank > 0 else { return [Tensor(shape: out, floats: y)] }
        let dst = contiguousStrides(out)
        let inner = x.shape[rank - 1]
        let rowsShape = Array(x.shape.dropLast())
        var index = [Int](repeating: 0, count: rank - 1)
        x.floats.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                for r in 0..<(x.count / inner) {
                    var o = begin[rank - 1]
                    for d in 0..<(rank - 1) { o += (index[d] + begin[d]) * dst[d] }
                    (yp.baseAddress! + o).update(from: xp.baseAddress! + r * inner, count: inner)
                    var d = rank - 2
                    while d >= 0 {
                        index[d] += 1
                        if index[d] < rowsShape[d] { break }
                        index[d] = 0
                        d -= 1
                    }
                }
            }
        }
        return [Tensor(shape: out, floats: y)]
    }
    t["Resize"] = { ctx in
        // Nearest neighbour, asymmetric coordinates, floor: what nn.Upsample(mode='nearest') exports.
        let x = try ctx.input(0)
        let mode = ctx.node.string("mode", default: "nearest")
        let coord = ctx.node.string("coordinate_transformation_mode", default: "half_pixel")
        let nearest = ctx.node.string("nearest_mode", default: "round_prefer_floor")
        guard mode == "nearest", coord == "asymmetric", nearest == "floor" else {
            throw ctx.fail("only mode nearest with asymmetric coordinates and floor rounding is supported (got \(mode), \(coord), \(nearest))")
        }
        let out = ctx.outputTypes[0].shape
        guard x.shape.count == 4 else { throw ctx.fail("only 4-D Resize is supported") }
        let scales: [Float] = ctx.optional(2).map { $0.floatValues }.flatMap { $0.isEmpty ? nil : $0 }
            ?? zip(out, x.shape).map { Float($0) / Float($1) }
        let (h, w, oh, ow) = (x.shape[2], x.shape[3], out[2], out[3])
        let ys = (0..<oh).map { min(Int((Float($0) / scales[2]).rounded(.down)), h - 1) }
        let xs = (0..<ow).map { min(Int((Float($0) / scales[3]).rounded(.down)), w - 1) }
        let planes = x.shape[0] * x.shape[1]
        var y = [Float](repeating: 0, count: planes * oh * ow)
        x.floats.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                for pl in 0..<planes {
                    let s = xp.baseAddress! + pl * h * w
                    let d = yp.baseAddress! + pl * oh * ow
                    for oy in 0..<oh {
                        let line = s + ys[oy] * w
                        let dl = d + oy * ow
                        for ox in 0..<ow { dl[ox] = line[xs[ox]] }
                    }
                }
            }
        }
        return [Tensor(shape: out, floats: y)]
    }
}

/// Reads `shape` elements starting at `offset` with per-dimension `steps` (a strided view made contiguous).
func gatherStrided<T>(_ x: [T], _ shape: [Int], _ offset: Int, _ steps: [Int]) -> [T] {
    let count = shape.reduce(1, *)
    var y = [T]()
    y.reserveCapacity(count)
    if count == 0 { return y }
    let rank = shape.count
    if rank == 0 { return [x[offset]] }
    var index = [Int](repeating: 0, count: rank)
    var off = offset
    let inner = shape[rank - 1], step = steps[rank - 1]
    x.withUnsafeBufferPointer { xp in
        while true {
            var p = off
            for _ in 0..<inner { y.append(xp[p]); p += step }
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                off += steps[d]
                if index[d] < shape[d] { break }
                off -= steps[d] * shape[d]
                index[d] = 0
                d -= 1
            }
            if d < 0 { break }
        }
    }
    return y
}
