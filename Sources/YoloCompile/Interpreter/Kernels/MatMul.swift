import CKernels

/// MatMul (numpy broadcasting of the batch axes: one BLAS product per output matrix), Gemm and Einsum.
/// float32 and float16 multiply in single precision (float16 rounded once after), float64 in double,
/// integers exactly (wrapping).
extension Kernels {
    static let matMul: Kernel = { ctx in
        try ctx.requireBLAS()
        var a = try ctx.input(0), b = try ctx.input(1)
        let out = try ctx.outputShape()
        if a.shape.count == 1 { a = a.reshaped([1] + a.shape) }
        if b.shape.count == 1 { b = b.reshaped(b.shape + [1]) }
        let (m, k, n) = (a.shape[a.shape.count - 2], a.shape[a.shape.count - 1], b.shape[b.shape.count - 1])
        let batch = ShapeRules.broadcast(Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2))) ?? []
        let count = batch.reduce(1, *)
        let ao = matrixOffsets(a.shape, batch, m * k), bo = matrixOffsets(b.shape, batch, k * n)
        /// One BLAS product per output matrix, the matrices split across threads; a single matrix in
        /// blocks (`parallelGemm`).
        let threads = ctx.threads
        func products<T: GemmElement>(_ av: [T], _ bv: [T]) -> [T] {
            guard m > 0 && n > 0 && k > 0 else { return [T](repeating: 0, count: count * m * n) }
            // Every product writes all of its output (beta 0), so the output starts uninitialised.
            return [T](unsafeUninitializedCapacity: count * m * n) { yp, initialized in
            av.withUnsafeBufferPointer { ap in
            bv.withUnsafeBufferPointer { bp in
                let (a, b, y) = (ap.baseAddress!, bp.baseAddress!, yp.baseAddress!)
                if count > 1, bo.allSatisfy({ $0 == 0 }), ao == (0..<count).map({ $0 * m * k }) {
                    // One B for every batch entry, and A's matrices one after another: a Linear layer
                    // over tokens. One product of (count x m) rows; each row's sums are the same.
                    T.parallelGemm(false, false, count * m, n, k, a, k, b, n, y, n, threads: threads)
                } else if count > 1 {
                    // Whole matrices in parallel (the same product per matrix whatever the thread count).
                    parallelTasks(count, threads: m * n * k >= 1 << 12 ? threads : 1) { _, i in
                        T.gemm(false, false, m, n, k, a + ao[i], k, b + bo[i], n, y + i * m * n, n)
                    }
                } else {
                    T.parallelGemm(false, false, m, n, k, a, k, b, n, y, n, threads: threads)
                }
            } }
            initialized = count * m * n
            }
        }
        switch a.dtype.storage {
        case .floats:
            var y = products(a.floats, b.floats)
            // Fused (`OutputPassFusion`): the bias Add (input 2) and the GELU, over the product's rows.
            let bias = ctx.optional(2)?.floats ?? []
            if ctx.activation != .identity || !bias.isEmpty {
                applyOutputPass(&y, rows: count * m, n: n, bias: bias, ctx.activation, threads: ctx.threads)
            }
            return [Tensor(shape: out, floats: y, dtype: a.dtype)]
        case .doubles: return [Tensor(shape: out, doubles: products(a.doubles, b.doubles))]
        case .ints:
            var y = [Int64](repeating: 0, count: count * m * n)
            for i in 0..<count {
                for r in 0..<m { for c in 0..<n {
                    var s: Int64 = 0
                    for t in 0..<k { s &+= a.ints[ao[i] + r * k + t] &* b.ints[bo[i] + t * n + c] }
                    y[i * m * n + r * n + c] = s
                } }
            }
            return [Tensor(shape: out, ints: y, dtype: a.dtype)]
        }
    }

    /// y = activation(y + bias) over `rows` rows of `n` (no bias when empty), rows split across threads.
    static func applyOutputPass(_ y: inout [Float], rows: Int, n: Int, bias: [Float], _ activation: FusedActivation, threads: Int) {
        guard rows > 0, n > 0 else { return }
        y.withUnsafeMutableBufferPointer { yb in
            bias.withUnsafeBufferPointer { bb in
                let (yp, bp) = (yb.baseAddress!, bb.baseAddress)
                parallelRanges(rows, threads: threads, grain: Swift.max(1, (1 << 14) / n)) { r in
                    activation.applyRows(yp + r.lowerBound * n, rows: r.count, n: n, bias: bb.isEmpty ? nil : bp)
                }
            }
        }
    }

    /// Offsets of each batch entry's matrix in a tensor of `shape`, with size-1 axes broadcast.
    static func matrixOffsets(_ shape: [Int], _ batch: [Int], _ matrix: Int) -> [Int] {
        let lead = [Int](repeating: 1, count: batch.count - (shape.count - 2)) + shape.dropLast(2)
        var strides = [Int](repeating: 0, count: batch.count)
        var s = matrix
        for d in stride(from: batch.count - 1, through: 0, by: -1) {
            strides[d] = lead[d] == 1 ? 0 : s
            s *= lead[d]
        }
        return (0..<batch.reduce(1, *)).map { i in
            var r = i, off = 0
            for d in stride(from: batch.count - 1, through: 0, by: -1) {
                off += (r % batch[d]) * strides[d]
                r /= batch[d]
            }
            return off
        }
    }

    /// One BLAS product, then beta * C broadcast.
    static let gemm: Kernel = { ctx in
        try ctx.requireBLAS()
        let a = try ctx.input(0), b = try ctx.input(1)
        let out = try ctx.outputShape()
        let (m, n) = (out[0], out[1])
        let ta = ctx.attributes.int("transA") != 0, tb = ctx.attributes.int("transB") != 0
        let k = ta ? a.shape[0] : a.shape[1]
        let alpha = ctx.attributes.float("alpha"), beta = ctx.attributes.float("beta")
        var cv: [Double] = []
        if let c = ctx.optional(2), beta != 0 {
            cv = broadcast(c.doubleValues, c.shape, [0.0], [], [m, n]) { v, _ in v }
        }
        if a.dtype == .float64 {
            var y = cv.isEmpty ? [Double](repeating: 0, count: m * n) : cv.map { Double(beta) * $0 }
            if k > 0, m > 0, n > 0 {
                a.doubles.withUnsafeBufferPointer { ap in
                b.doubles.withUnsafeBufferPointer { bp in
                y.withUnsafeMutableBufferPointer { yp in
                    yc_dgemm(ta ? 1 : 0, tb ? 1 : 0, Int32(m), Int32(n), Int32(k), Double(alpha), ap.baseAddress!, Int32(a.shape[1]),
                             bp.baseAddress!, Int32(b.shape[1]), 1, yp.baseAddress!, Int32(n))
                } } }
            }
            return [Tensor(shape: out, doubles: y)]
        }
        var y = cv.isEmpty ? [Float](repeating: 0, count: m * n) : cv.map { beta * Float($0) }
        if k > 0, m > 0, n > 0 {  // BLAS rejects zero leading dimensions
            a.floats.withUnsafeBufferPointer { ap in
            b.floats.withUnsafeBufferPointer { bp in
            y.withUnsafeMutableBufferPointer { yp in
                yc_sgemm(ta ? 1 : 0, tb ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, ap.baseAddress!, Int32(a.shape[1]),
                         bp.baseAddress!, Int32(b.shape[1]), 1, yp.baseAddress!, Int32(n))
            } } }
        }
        return [Tensor(shape: out, floats: y, dtype: a.dtype)]
    }

    /// Every output element sums the product of its operands over the summed letters.
    static let einsum: Kernel = { ctx in
        let xs = try ctx.inputs.indices.map { try ctx.input($0) }
        let e = try EinsumEquation(ctx.attributes.string("equation"), shapes: xs.map(\.shape), fail: ctx.fail)
        let out = try ctx.outputShape()
        let summed = e.summed
        let letters = e.output + summed
        let sizes = letters.map { e.sizes[$0] ?? 1 }
        // For each operand, its stride per letter (0 where it lacks the letter or broadcasts it).
        let strides: [[Int]] = zip(xs, e.operands).map { x, ops in
            let s = contiguousStrides(x.shape)
            return letters.map { c in
                var total = 0
                for (j, l) in ops.enumerated() where l == c && x.shape[j] != 1 { total += s[j] }
                return total
            }
        }
        let outCount = out.reduce(1, *), sumCount = summed.map { e.sizes[$0] ?? 1 }.reduce(1, *)
        let isInt = xs[0].dtype.storage == .ints
        let dv = isInt ? [] : xs.map(\.doubleValues)
        var yd = [Double](repeating: 0, count: outCount), yi = [Int64](repeating: 0, count: outCount)
        var index = [Int](repeating: 0, count: letters.count)
        var offsets = [Int](repeating: 0, count: xs.count)
        /// Steps the odometer over letters lowest..<top (innermost last), moving every operand's offset.
        func advance(_ lowest: Int, _ top: Int) {
            var d = top - 1
            while d >= lowest {
                index[d] += 1
                for j in xs.indices { offsets[j] += strides[j][d] }
                if index[d] < sizes[d] { break }
                for j in xs.indices { offsets[j] -= strides[j][d] * sizes[d] }
                index[d] = 0
                d -= 1
            }
        }
        for o in 0..<outCount {
            var accD = 0.0, accI: Int64 = 0
            for _ in 0..<Swift.max(sumCount, 1) where sumCount > 0 {
                if isInt {
                    var p: Int64 = 1
                    for (j, x) in xs.enumerated() { p = p &* x.ints[offsets[j]] }
                    accI = accI &+ p
                } else {
                    var p = 1.0
                    for j in xs.indices { p *= dv[j][offsets[j]] }
                    accD += p
                }
                advance(e.output.count, letters.count)  // the summed letters, innermost
            }
            yd[o] = accD
            yi[o] = accI
            advance(0, e.output.count)
        }
        if isInt { return [Tensor(shape: out, ints: yi, dtype: xs[0].dtype)] }
        return [Tensor(shape: out, values: yd, dtype: xs[0].dtype)]
    }
}
