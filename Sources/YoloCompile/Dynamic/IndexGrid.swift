/// A float constant that depends on the image size, rebuilt in the graph from Range: Detect's cell grid
/// (x - 0.5, y - 0.5) at (1, 1, ny, nx, 2), Ultralytics' anchor points (x + 0.5, y + 0.5) and strides
/// over all levels at (1, 2, A). Such a constant is, per block, affine in its cell indices:
///
///     C[..., y, ..., x, ...] = (A + B1 * y) + B2 * x        (float32, in this order)
///
/// with A, B1, B2 free of y and x. Either the size-dependent axes are the cell axes themselves (one or
/// two of them), or one axis runs over every detection level's cells, row-major, level after level.
/// The coefficients are read from the largest probe and the formula is checked bit for bit at every
/// probe; a constant that fails it is refused, never approximated.
struct IndexGrid {
    struct Block {
        /// The block's shape with its cell axes written out (a levels axis becomes ny, nx).
        var expanded: [SizeMonomial]
        var cellAxes: [Int]
        /// A and the B per cell axis, shaped as `expanded` with the cell axes 1.
        var a: Tensor
        var b: [Tensor]
    }

    var blocks: [Block]
    /// The levels axis, whose blocks are merged and concatenated; nil when the cell axes are the constant's own.
    var levelsAxis: Int?
    var dims: [SizeMonomial]

    /// Why a constant is not such a grid.
    struct Refusal: Error {
        var why: String
        init(_ why: String) { self.why = why }
    }

    /// A 5-D view [P, N1, M, N2, Q] of one block of a probe's tensor: element (p, i1, m, i2, q).
    private struct View {
        var p, n1, m, n2, q: Int
        var index: (Int, Int, Int, Int, Int) -> Int
    }

    /// Recognises the constant from its value at each probe (`tensors[i]` at `points[i]`), or says why not.
    static func recognize(_ tensors: [Tensor], at points: [ProbePoint], dims: [SizeMonomial], strides: [Int],
                          quantum: (height: Int, width: Int)) throws(Refusal) -> IndexGrid {
        let varying = dims.indices.filter { !dims[$0].isConstant }
        guard varying.allSatisfy({ dims[$0].batch == 0 }) else { throw Refusal("it varies with the batch") }
        guard tensors.allSatisfy({ $0.dtype == .float32 }) else { throw Refusal("it is \(tensors[0].dtype), not float32") }
        let shapes = tensors.map(\.shape)
        // Per probe, the blocks' views; per block, its expanded shape and cell axes.
        var layouts: [(expanded: [SizeMonomial], cellAxes: [Int])] = []
        var views: [[View]] = []
        var overLevels = false
        if varying.count == 2 || (varying.count == 1 && dims[varying[0]].height + dims[varying[0]].width == 1) {
            let a = varying[0], b = varying.count == 2 ? varying[1] : nil
            layouts = [(dims, varying)]
            views = shapes.map { s in
                let p = s[..<a].reduce(1, *), n1 = s[a]
                let m = b.map { s[(a + 1)..<$0].reduce(1, *) } ?? 1, n2 = b.map { s[$0] } ?? 1
                let q = s[((b ?? a) + 1)...].reduce(1, *)
                return [View(p: p, n1: n1, m: m, n2: n2, q: q) { pp, i1, mm, i2, qq in (((pp * n1 + i1) * m + mm) * n2 + i2) * q + qq }]
            }
        } else if varying.count == 1, dims[varying[0]].height == 1, dims[varying[0]].width == 1 {
            let k = varying[0]
            overLevels = true
            var levels: [(ny: SizeMonomial, nx: SizeMonomial)] = []
            for s in strides {
                guard s > 0, quantum.height % s == 0, quantum.width % s == 0 else { throw Refusal("stride \(s) does not divide the size quantum") }
                levels.append((SizeMonomial(numerator: quantum.height / s, denominator: 1, batch: 0, height: 1, width: 0),
                               SizeMonomial(numerator: quantum.width / s, denominator: 1, batch: 0, height: 0, width: 1)))
            }
            for l in levels {
                var e = dims
                e.replaceSubrange(k...k, with: [l.ny, l.nx])
                layouts.append((e, [k, k + 1]))
            }
            for (s, point) in zip(shapes, points) {
                let sizes = levels.map { ($0.ny.value(at: point) ?? -1, $0.nx.value(at: point) ?? -1) }
                guard sizes.reduce(0, { $0 + $1.0 * $1.1 }) == s[k] else {
                    throw Refusal("its \(s[k]) entries are not the cells of the levels at strides \(strides)")
                }
                let p = s[..<k].reduce(1, *), q = s[(k + 1)...].reduce(1, *), total = s[k]
                var offset = 0
                var row: [View] = []
                for (ny, nx) in sizes {
                    let o = offset
                    row.append(View(p: p, n1: ny, m: 1, n2: nx, q: q) { p, y, _, x, qq in (p * total + o + y * nx + x) * q + qq })
                    offset += ny * nx
                }
                views.append(row)
            }
        } else {
            throw Refusal("its size-dependent axes \(varying) are neither cell axes nor one axis over the levels' cells")
        }
        guard let lastViews = views.last, let last = tensors.last else { throw Refusal("no probes") }
        var blocks: [Block] = []
        for (j, layout) in layouts.enumerated() {
            let v = lastViews[j]
            let two = layout.cellAxes.count == 2
            guard v.n1 >= 2, !two || v.n2 >= 2 else { throw Refusal("its cells are too few at the largest probe to read its slope") }
            var a = [Float](), b1 = [Float](), b2 = [Float]()
            for p in 0..<v.p { for m in 0..<v.m { for q in 0..<v.q {
                let a0 = last.floats[v.index(p, 0, m, 0, q)]
                a.append(a0)
                b1.append(last.floats[v.index(p, 1, m, 0, q)] - a0)
                if two { b2.append(last.floats[v.index(p, 0, m, 1, q)] - a0) }
            } } }
            // Every probe, every element, bit for bit.
            for (t, row) in zip(tensors, views) {
                let w = row[j]
                var c = 0
                for p in 0..<w.p { for m in 0..<w.m { for q in 0..<w.q {
                    for i1 in 0..<w.n1 { for i2 in 0..<w.n2 {
                        var value = a[c] + b1[c] * Float(i1)
                        if two { value = value + b2[c] * Float(i2) }
                        if value.bitPattern != t.floats[w.index(p, i1, m, i2, q)].bitPattern {
                            throw Refusal("it is not affine in its cell indices (block \(j))")
                        }
                    } }
                    c += 1
                } } }
            }
            var coefficientShape: [Int] = []
            for (i, d) in layout.expanded.enumerated() {
                if layout.cellAxes.contains(i) { coefficientShape.append(1); continue }
                guard d.isConstant else { throw Refusal("it has another size-dependent axis") }
                coefficientShape.append(d.numerator / d.denominator)
            }
            blocks.append(Block(expanded: layout.expanded, cellAxes: layout.cellAxes,
                                a: Tensor(shape: coefficientShape, floats: a),
                                b: [Tensor(shape: coefficientShape, floats: b1)] + (two ? [Tensor(shape: coefficientShape, floats: b2)] : [])))
        }
        return IndexGrid(blocks: blocks, levelsAxis: overLevels ? varying[0] : nil,
                                  dims: dims)
    }

    /// Builds the constant in the graph and returns it.
    func emit(_ s: inout ShapeArithmetic) -> ValueID {
        var parts: [ValueID] = []
        for block in blocks {
            let rank = block.expanded.count
            let blockType = TensorType(.float32, dims: block.expanded.map(DynamicShapes.dim))
            var acc = s.constant(block.a)
            for (axis, slope) in zip(block.cellAxes, block.b) {
                let n = block.expanded[axis]
                let range = s.node("Range", [s.constant(Tensor(shape: [], ints: [0])), s.scalar(n), s.constant(Tensor(shape: [], ints: [1]))],
                                   [TensorType(.int64, dims: [DynamicShapes.dim(n)])])[0]
                let float = s.node("Cast", [range], [TensorType(.float32, dims: [DynamicShapes.dim(n)])], ["to": .int(Int(DType.float32.onnxCode))])[0]
                var indexShape = [Int](repeating: 1, count: rank)
                indexShape[axis] = -1
                var indexDims = [Dim](repeating: .value(1), count: rank)
                indexDims[axis] = DynamicShapes.dim(n)
                let index = s.node("Reshape", [float, s.constant(.vector(indexShape))], [TensorType(.float32, dims: indexDims)])[0]
                var termDims = block.a.shape.map(Dim.value)
                termDims[axis] = DynamicShapes.dim(n)
                let term = s.node("Mul", [s.constant(slope), index], [TensorType(.float32, dims: termDims)])[0]
                var sumDims = s.graph.type(of: acc).dims ?? []
                sumDims[axis] = DynamicShapes.dim(n)
                acc = s.node("Add", [acc, term], [TensorType(.float32, dims: sumDims)])[0]
            }
            s.graph.setType(acc, blockType)
            if let k = levelsAxis {
                var merged = dims.map { $0.isConstant ? $0.numerator / $0.denominator : 0 }
                merged[k] = -1
                var mergedDims = dims.map(DynamicShapes.dim)
                mergedDims[k] = DynamicShapes.dim(SizeMonomial(numerator: block.expanded[k].numerator * block.expanded[k + 1].numerator,
                                                               denominator: 1, batch: 0, height: 1, width: 1))
                acc = s.node("Reshape", [acc, s.constant(.vector(merged))], [TensorType(.float32, dims: mergedDims)])[0]
            }
            parts.append(acc)
        }
        guard parts.count > 1, let k = levelsAxis else { return parts[0] }
        return s.node("Concat", parts, [TensorType(.float32, dims: dims.map(DynamicShapes.dim))], ["axis": .int(k)])[0]
    }
}
