import Foundation

/// Normalisation kernels. Statistics accumulate in Double; float32 and float16 results round once.
extension Kernels {
    /// BatchNormalization: y = (x - mean) / sqrt(var + eps) * scale + bias, per channel; in training mode
    /// with the batch's mean and population variance, and the running statistics updated by momentum.
    static let batchNorm: Kernel = { ctx in
        let x = try ctx.input(0)
        let scale = try ctx.input(1).doubleValues, bias = try ctx.input(2).doubleValues
        let mean = try ctx.input(3).doubleValues, variance = try ctx.input(4).doubleValues
        let eps = Double(ctx.attributes.float("epsilon"))
        let c = x.shape[1]
        let inner = x.shape[2...].reduce(1, *)
        if ctx.attributes.int("training_mode") != 0 {
            let v = x.doubleValues, n = x.shape[0], count = Double(n * inner)
            var batchMean = [Double](repeating: 0, count: c), batchVariance = batchMean
            for ch in 0..<c {
                var s = 0.0
                for b in 0..<n { for i in 0..<inner { s += v[(b * c + ch) * inner + i] } }
                batchMean[ch] = s / count
                var q = 0.0
                for b in 0..<n { for i in 0..<inner { let d = v[(b * c + ch) * inner + i] - batchMean[ch]; q += d * d } }
                batchVariance[ch] = q / count
            }
            let momentum = Double(ctx.attributes.float("momentum"))
            let running = (0..<c).map { mean[$0] * momentum + batchMean[$0] * (1 - momentum) }
            let runningVariance = (0..<c).map { variance[$0] * momentum + batchVariance[$0] * (1 - momentum) }
            var y = v
            for b in 0..<n { for ch in 0..<c {
                let k = scale[ch] / (batchVariance[ch] + eps).squareRoot()
                for i in 0..<inner { let at = (b * c + ch) * inner + i; y[at] = (y[at] - batchMean[ch]) * k + bias[ch] }
            } }
            let statsType = ctx.outputTypes.count > 1 ? ctx.outputDType(1) : x.dtype
            return [Tensor(shape: x.shape, values: y, dtype: x.dtype), Tensor(shape: [c], values: running, dtype: statsType),
                    Tensor(shape: [c], values: runningVariance, dtype: statsType)].prefix(ctx.outputTypes.count).map { $0 }
        }
        if x.dtype == .float32 {
            var y = x.floats
            y.withUnsafeMutableBufferPointer { yp in
                for n in 0..<x.shape[0] {
                    for ch in 0..<c {
                        let k = Float(scale[ch] / (variance[ch] + eps).squareRoot())
                        let m = Float(mean[ch]), b = Float(bias[ch])
                        let base = (n * c + ch) * inner
                        for i in 0..<inner { yp[base + i] = (yp[base + i] - m) * k + b }
                    }
                }
            }
            return [Tensor(shape: x.shape, floats: y)]
        }
        var y = x.doubleValues
        for n in 0..<x.shape[0] {
            for ch in 0..<c {
                let k = scale[ch] / (variance[ch] + eps).squareRoot()
                let base = (n * c + ch) * inner
                for i in 0..<inner { y[base + i] = (y[base + i] - mean[ch]) * k + bias[ch] }
            }
        }
        return [Tensor(shape: x.shape, values: y, dtype: x.dtype)]
    }

    /// Mean and variance of each of `rows` contiguous runs of `n` values, in Double.
    static func rowStatistics(_ v: [Double], rows: Int, n: Int) -> [(mean: Double, variance: Double)] {
        (0..<rows).map { r in
            let slice = v[(r * n)..<((r + 1) * n)]
            let mean = slice.reduce(0, +) / Double(n)
            let variance = slice.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
            return (mean, variance)
        }
    }

    static let instanceNorm: Kernel = { ctx in
        let x = try ctx.input(0)
        let scale = try ctx.input(1).doubleValues, bias = try ctx.input(2).doubleValues
        let eps = Double(ctx.attributes.float("epsilon"))
        let c = x.shape[1], inner = x.shape[2...].reduce(1, *), rows = x.shape[0] * c
        var v = x.doubleValues
        for (r, s) in rowStatistics(v, rows: rows, n: inner).enumerated() {
            let k = 1 / (s.variance + eps).squareRoot()
            for i in 0..<inner { v[r * inner + i] = (v[r * inner + i] - s.mean) * k * scale[r % c] + bias[r % c] }
        }
        return [Tensor(shape: x.shape, values: v, dtype: x.dtype)]
    }

    /// Statistics per (batch, group), scale and bias per channel (opset 21's definition).
    static let groupNorm: Kernel = { ctx in
        let x = try ctx.input(0)
        let scale = try ctx.input(1).doubleValues, bias = try ctx.input(2).doubleValues
        let eps = Double(ctx.attributes.float("epsilon"))
        let g = ctx.attributes.int("num_groups")
        let c = x.shape[1], inner = x.shape[2...].reduce(1, *), per = c / g * inner
        var v = x.doubleValues
        for (r, s) in rowStatistics(v, rows: x.shape[0] * g, n: per).enumerated() {
            let k = 1 / (s.variance + eps).squareRoot()
            for i in 0..<per {
                let ch = (r % g) * (c / g) + i / inner
                v[r * per + i] = (v[r * per + i] - s.mean) * k * scale[ch] + bias[ch]
            }
        }
        return [Tensor(shape: x.shape, values: v, dtype: x.dtype)]
    }

    /// LayerNormalization over the axes from `axis` on, with the optional Mean and InvStdDev outputs.
    static let layerNorm: Kernel = { ctx in
        var x = try ctx.takeInput(0)
        let axis = ctx.attributes.int("axis") < 0 ? ctx.attributes.int("axis") + x.shape.count : ctx.attributes.int("axis")
        let eps = Double(ctx.attributes.float("epsilon"))
        let rows = x.shape[..<axis].reduce(1, *), n = x.shape[axis...].reduce(1, *)
        let normalized = Array(x.shape[axis...])
        // Scale and bias broadcast to the normalised shape.
        func expand(_ t: Tensor?) -> [Double]? {
            guard let t else { return nil }
            let v = t.doubleValues
            if t.count == n { return v }
            return broadcast(v, t.shape, [0.0], [], normalized) { a, _ in a }
        }
        let scale = expand(try ctx.input(1)), bias = expand(ctx.optional(2))
        var means = [Float](repeating: 0, count: rows), inverse = [Float](repeating: 0, count: rows)
        let out: Tensor
        if x.dtype == .float32, let scale {
            // Over the input where the interpreter hands it over (`reusesInput`): moved out of x, so
            // that writing it copies nothing.
            var y = x.floats
            x.floats = []
            y.withUnsafeMutableBufferPointer { yb in
            means.withUnsafeMutableBufferPointer { mb in
            inverse.withUnsafeMutableBufferPointer { ib in
              let (yp, means, inverse) = (yb.baseAddress!, mb.baseAddress!, ib.baseAddress!)
              /// Row r normalised with its mean and summed squared deviations.
              func normalize(_ r: Int, _ mean: Double, _ squares: Double) {
                  let base = r * n
                  let inv = 1 / (squares / Double(n) + eps).squareRoot()
                  means[r] = Float(mean)
                  inverse[r] = Float(inv)
                  for i in 0..<n {
                      var v = Float((Double(yp[base + i]) - mean) * inv)
                      v *= Float(scale[i])
                      if let bias { v += Float(bias[i]) }
                      yp[base + i] = v
                  }
              }
              // Rows are independent: split across threads. Each row's sums run in order in double,
              // four rows at a time so that four chains of additions overlap.
              parallelRanges(rows, threads: ctx.threads, grain: Swift.max(1, (1 << 13) / Swift.max(n, 1))) { range in
                var r = range.lowerBound
                while r + 4 <= range.upperBound {
                    let (a, b, c, d) = (yp + r * n, yp + (r + 1) * n, yp + (r + 2) * n, yp + (r + 3) * n)
                    var (ma, mb, mc, md): (Double, Double, Double, Double) = (0, 0, 0, 0)
                    for i in 0..<n { ma += Double(a[i]); mb += Double(b[i]); mc += Double(c[i]); md += Double(d[i]) }
                    (ma, mb, mc, md) = (ma / Double(n), mb / Double(n), mc / Double(n), md / Double(n))
                    var (sa, sb, sc, sd): (Double, Double, Double, Double) = (0, 0, 0, 0)
                    for i in 0..<n {
                        let (da, db, dc, dd) = (Double(a[i]) - ma, Double(b[i]) - mb, Double(c[i]) - mc, Double(d[i]) - md)
                        sa += da * da; sb += db * db; sc += dc * dc; sd += dd * dd
                    }
                    normalize(r, ma, sa); normalize(r + 1, mb, sb); normalize(r + 2, mc, sc); normalize(r + 3, md, sd)
                    r += 4
                }
                for row in r..<range.upperBound {
                    let p = yp + row * n
                    var mean: Double = 0
                    for i in 0..<n { mean += Double(p[i]) }
                    mean /= Double(n)
                    var squares: Double = 0
                    for i in 0..<n { let d = Double(p[i]) - mean; squares += d * d }
                    normalize(row, mean, squares)
                }
              }
            } } }
            out = Tensor(shape: x.shape, floats: y)
        } else {
            var v = x.doubleValues
            for (r, s) in rowStatistics(v, rows: rows, n: n).enumerated() {
                let inv = 1 / (s.variance + eps).squareRoot()
                means[r] = Float(s.mean)
                inverse[r] = Float(inv)
                for i in 0..<n {
                    var y = (v[r * n + i] - s.mean) * inv
                    if let scale { y *= scale[i] }
                    if let bias { y += bias[i] }
                    v[r * n + i] = y
                }
            }
            out = Tensor(shape: x.shape, values: v, dtype: x.dtype)
        }
        var results = [out]
        let statsShape = Array(x.shape[..<axis]) + [Int](repeating: 1, count: x.shape.count - axis)
        if ctx.outputTypes.count > 1 { results.append(Tensor(shape: statsShape, floats: means)) }
        if ctx.outputTypes.count > 2 { results.append(Tensor(shape: statsShape, floats: inverse)) }
        return results
    }

    /// y = x / (bias + alpha / size * sum of squares over the channel window) ^ beta.
    static let lrn: Kernel = { ctx in
        let x = try ctx.input(0)
        let a = ctx.attributes
        let alpha = Double(a.float("alpha")), beta = Double(a.float("beta")), bias = Double(a.float("bias"))
        let size = a.int("size")
        let c = x.shape[1], inner = x.shape[2...].reduce(1, *)
        let lo = (size - 1) / 2, hi = (size - 1) - lo
        let v = x.doubleValues
        var y = v
        for n in 0..<x.shape[0] {
            for ch in 0..<c {
                for i in 0..<inner {
                    var sum = 0.0
                    for k in Swift.max(0, ch - lo)...Swift.min(c - 1, ch + hi) {
                        let e = v[(n * c + k) * inner + i]
                        sum += e * e
                    }
                    let at = (n * c + ch) * inner + i
                    y[at] = v[at] / Foundation.pow(bias + alpha / Double(size) * sum, beta)
                }
            }
        }
        return [Tensor(shape: x.shape, values: y, dtype: x.dtype)]
    }

    /// (x - mean) / (sqrt(E[x^2] - mean^2) + 1e-9) over `axes`, as the operator's function body defines it.
    static let meanVarianceNorm: Kernel = { ctx in
        let x = try ctx.input(0)
        let rank = x.shape.count
        let axes = Set((ctx.attributes.ints("axes") ?? [0, 2, 3]).map { $0 < 0 ? $0 + rank : $0 })
        let v = x.doubleValues
        let keptShape = x.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
        let index = reductionIndex(x.shape, keptShape)
        let count = Double(x.shape.enumerated().filter { axes.contains($0.offset) }.map(\.element).reduce(1, *))
        var sum = [Double](repeating: 0, count: keptShape.reduce(1, *)), sq = sum
        for (i, e) in v.enumerated() { sum[index[i]] += e; sq[index[i]] += e * e }
        let y = v.enumerated().map { i, e -> Double in
            let m = sum[index[i]] / count
            let variance = sq[index[i]] / count - m * m
            return (e - m) / (variance.squareRoot() + 1e-9)
        }
        return [Tensor(shape: x.shape, values: y, dtype: x.dtype)]
    }
}

/// For each element of a tensor of `shape`, the flat index of its slot in the reduced `kept` shape
/// (size 1 on reduced axes).
func reductionIndex(_ shape: [Int], _ kept: [Int]) -> [Int] {
    let rank = shape.count
    let keptStrides = contiguousStrides(kept).enumerated().map { kept[$0.offset] == 1 ? 0 : $0.element }
    let n = shape.reduce(1, *)
    var result = [Int](repeating: 0, count: n)
    var index = [Int](repeating: 0, count: rank)
    var o = 0
    for i in 0..<n {
        result[i] = o
        var d = rank - 1
        while d >= 0 {
            index[d] += 1
            o += keptStrides[d]
            if index[d] < shape[d] { break }
            o -= keptStrides[d] * shape[d]
            index[d] = 0
            d -= 1
        }
    }
    return result
}
