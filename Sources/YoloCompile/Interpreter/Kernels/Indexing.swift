/// Gathers and scatters (Operators/Indexing.swift). Every index is checked against its axis; a
/// negative one counts from the end.
extension Kernels {
    /// `i` normalised into 0..<n, or nil.
    @inline(__always)
    static func index(_ i: Int64, _ n: Int) -> Int? {
        let j = i < 0 ? Int(i) + n : Int(truncatingIfNeeded: i)
        return j >= 0 && j < n ? j : nil
    }

    static let gather: Kernel = { ctx in
        let x = try ctx.input(0), idx = try ctx.input(1)
        var axis = ctx.attributes.int("axis")
        if axis < 0 { axis += x.shape.count }
        let (outer, n, inner) = around(x.shape, axis)
        var picked: [Int] = []
        picked.reserveCapacity(outer * idx.count * inner)
        for o in 0..<outer {
            for i in idx.ints {
                guard let j = index(i, n) else { throw ctx.fail("index \(i) is out of range for axis \(axis) of size \(n)") }
                let base = (o * n + j) * inner
                for k in 0..<inner { picked.append(base + k) }
            }
        }
        return [x.gathered(picked, shape: try ctx.outputShape())]
    }

    static let gatherElements: Kernel = { ctx in
        let x = try ctx.input(0), idx = try ctx.input(1)
        return [x.gathered(try elementPositions(ctx, data: x.shape, indices: idx), shape: idx.shape)]
    }

    /// GatherElements' and ScatterElements' positions: for each element of `indices`, the flat position
    /// in the data with the index on `axis` and the element's own coordinates elsewhere.
    static func elementPositions(_ ctx: KernelContext, data shape: [Int], indices idx: Tensor) throws -> [Int] {
        var axis = ctx.attributes.int("axis")
        if axis < 0 { axis += shape.count }
        let src = contiguousStrides(shape)
        var bad: Int64? = nil
        let positions = mapIndices(idx.shape) { pos in
            var flat = 0
            for a in 0..<pos.count where a != axis { flat += pos[a] * src[a] }
            let i = idx.ints[idxFlat(pos, idx.shape)]
            guard let j = index(i, shape[axis]) else { bad = i; return 0 }
            return flat + j * src[axis]
        }
        if let bad { throw ctx.fail("index \(bad) is out of range for axis \(axis) of size \(shape[axis])") }
        return positions
    }

    static let gatherND: Kernel = { ctx in
        let x = try ctx.input(0), idx = try ctx.input(1)
        let b = ctx.attributes.int("batch_dims")
        let k = idx.shape.last ?? 0
        let batch = x.shape[..<b].reduce(1, *)
        let slice = x.shape[(b + k)...].reduce(1, *)
        let perBatch = x.shape[b...].reduce(1, *)
        let tuples = idx.count / Swift.max(k, 1)
        let tuplesPerBatch = tuples / Swift.max(batch, 1)
        let src = contiguousStrides(Array(x.shape[b...]))
        var picked: [Int] = []
        picked.reserveCapacity(tuples * slice)
        for t in 0..<tuples {
            var flat = (t / Swift.max(tuplesPerBatch, 1)) * perBatch
            for a in 0..<k {
                let i = idx.ints[t * k + a]
                guard let j = index(i, x.shape[b + a]) else { throw ctx.fail("index \(i) is out of range for axis \(b + a) of size \(x.shape[b + a])") }
                flat += j * src[a]
            }
            for s in 0..<slice { picked.append(flat + s) }
        }
        return [x.gathered(picked, shape: try ctx.outputShape())]
    }

    /// Writes `updates` at the positions; with a reduction, combines with what is there. Two updates of
    /// one position without a reduction leave the result undefined in ONNX: refused.
    static func scatter(_ ctx: KernelContext, _ x: Tensor, _ targets: [Int], _ u: Tensor) throws -> Tensor {
        // Scatter (opset 9, ScatterElements' earlier name) has no reduction.
        let reduction = ctx.node.op == "Scatter" ? "none" : ctx.attributes.string("reduction")
        if reduction == "none", Set(targets).count != targets.count {
            throw ctx.fail("two updates write the same element; without a reduction ONNX leaves the result undefined")
        }
        var y = x
        func combine<T>(_ a: inout [T], _ v: [T], _ f: (T, T) -> T) {
            for (k, t) in targets.enumerated() { a[t] = reduction == "none" ? v[k] : f(a[t], v[k]) }
        }
        switch x.dtype.storage {
        case .floats:
            combine(&y.floats, u.floats) { a, b in
                switch reduction { case "add": a + b; case "mul": a * b; case "max": Swift.max(a, b); default: Swift.min(a, b) }
            }
            return Tensor(shape: y.shape, floats: y.floats, dtype: y.dtype)
        case .doubles:
            combine(&y.doubles, u.doubles) { a, b in
                switch reduction { case "add": a + b; case "mul": a * b; case "max": Swift.max(a, b); default: Swift.min(a, b) }
            }
            return y
        case .ints:
            let unsigned = x.dtype == .uint64
            combine(&y.ints, u.ints) { a, b in
                switch reduction {
                case "add": a &+ b
                case "mul": a &* b
                case "max": unsigned ? Int64(bitPattern: Swift.max(UInt64(bitPattern: a), UInt64(bitPattern: b))) : Swift.max(a, b)
                default: unsigned ? Int64(bitPattern: Swift.min(UInt64(bitPattern: a), UInt64(bitPattern: b))) : Swift.min(a, b)
                }
            }
            return Tensor(shape: y.shape, ints: y.ints, dtype: y.dtype)
        }
    }

    static let scatterND: Kernel = { ctx in
        let x = try ctx.input(0), idx = try ctx.input(1), u = try ctx.input(2)
        let k = idx.shape.last ?? 0
        let slice = x.shape[k...].reduce(1, *)
        let src = contiguousStrides(x.shape)
        var targets: [Int] = []
        targets.reserveCapacity(u.count)
        for t in 0..<(idx.count / Swift.max(k, 1)) {
            var flat = 0
            for a in 0..<k {
                let i = idx.ints[t * k + a]
                guard let j = index(i, x.shape[a]) else { throw ctx.fail("index \(i) is out of range for axis \(a) of size \(x.shape[a])") }
                flat += j * src[a]
            }
            for s in 0..<slice { targets.append(flat + s) }
        }
        return [try scatter(ctx, x, targets, u)]
    }

    static let scatterElements: Kernel = { ctx in
        let x = try ctx.input(0), idx = try ctx.input(1), u = try ctx.input(2)
        return [try scatter(ctx, x, try elementPositions(ctx, data: x.shape, indices: idx), u)]
    }

    static let compress: Kernel = { ctx in
        let x = try ctx.input(0), c = try ctx.input(1)
        let out = try ctx.outputShape()
        guard let a = ctx.attributes.optionalInt("axis") else {
            return [x.gathered(c.ints.enumerated().filter { $0.element != 0 }.map(\.offset), shape: out)]
        }
        let axis = a < 0 ? a + x.shape.count : a
        let (outer, _, inner) = around(x.shape, axis)
        let n = x.shape[axis]
        let kept = c.ints.enumerated().filter { $0.element != 0 }.map(\.offset)
        var picked: [Int] = []
        for o in 0..<outer { for j in kept { for k in 0..<inner { picked.append((o * n + j) * inner + k) } } }
        return [x.gathered(picked, shape: out)]
    }

    /// values[1] where the index (negative counts from depth) equals the position along `axis`,
    /// values[0] elsewhere; indices outside [-depth, depth) give an all-off row.
    static let oneHot: Kernel = { ctx in
        let idx = try ctx.input(0), values = try ctx.input(2)
        let out = try ctx.outputShape()
        var axis = ctx.attributes.int("axis")
        if axis < 0 { axis += out.count }
        let depth = out[axis]
        // NaN, infinities and sizes past 2^62 are out of range: an all-off row (Int64.max never matches).
        let iv = idx.doubleValues.map { v -> Int64 in
            let t = v.rounded(.towardZero)
            return t.isFinite && Swift.abs(t) < 0x1p62 ? Int64(t) : Int64.max
        }
        let inner = out[(axis + 1)...].reduce(1, *)
        let picked = mapIndices(out) { pos in
            var flat = 0
            var src = pos
            let hot = src.remove(at: axis)
            let strides = contiguousStrides(idx.shape)
            for a in 0..<src.count { flat += src[a] * strides[a] }
            var i = iv[flat]
            if i < 0 { i += Int64(depth) }
            return i == Int64(hot) ? 1 : 0
        }
        _ = inner
        return [values.reshaped([values.count]).gathered(picked, shape: out)]
    }
}

/// The flat row-major index of `pos` in `shape`.
@inline(__always)
func idxFlat(_ pos: [Int], _ shape: [Int]) -> Int {
    var flat = 0
    for a in 0..<shape.count { flat = flat * shape[a] + pos[a] }
    return flat
}
