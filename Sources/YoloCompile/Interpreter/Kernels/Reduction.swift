import CKernels
import Foundation

/// Reductions: ReduceMean over any axes, GlobalAveragePool, and Softmax along one axis.
func registerReduction(_ t: inout [String: Kernel]) {
    t["ReduceMean"] = { ctx in
        let x = try ctx.input(0)
        let rank = x.shape.count
        let axes = (ctx.optional(1)?.intValues ?? []).map { $0 < 0 ? $0 + rank : $0 }
        let reduced = Set(axes.isEmpty ? Array(0..<rank) : axes)
        // Sum into the output through strides that are 0 on reduced axes.
        let keptShape = x.shape.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element }
        let outStrides = contiguousStrides(keptShape).enumerated().map { reduced.contains($0.offset) ? 0 : $0.element }
        var sums = [Double](repeating: 0, count: keptShape.reduce(1, *))
        var index = [Int](repeating: 0, count: rank)
        var o = 0
        for v in x.floats {
            sums[o] += Double(v)
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                o += outStrides[d]
                if index[d] < x.shape[d] { break }
                o -= outStrides[d] * x.shape[d]
                index[d] = 0
                d -= 1
            }
        }
        let n = Double(x.shape.enumerated().filter { reduced.contains($0.offset) }.map(\.element).reduce(1, *))
        return [Tensor(shape: ctx.outputTypes[0].shape, floats: sums.map { Float($0 / n) })]
    }
    t["GlobalAveragePool"] = { ctx in
        let x = try ctx.input(0)
        let planes = x.shape[0] * x.shape[1], inner = x.shape[2...].reduce(1, *)
        var y = [Float](repeating: 0, count: planes)
        x.floats.withUnsafeBufferPointer { xp in
            for p in 0..<planes {
                var s: Double = 0
                for i in 0..<inner { s += Double(xp[p * inner + i]) }
                y[p] = Float(s / Double(inner))
            }
        }
        return [Tensor(shape: ctx.outputTypes[0].shape, floats: y)]
    }
    t["Softmax"] = { ctx in
        let x = try ctx.input(0)
        var axis = ctx.node.int("axis", default: -1)
        if axis < 0 { axis += x.shape.count }
        let outer = x.shape[..<axis].reduce(1, *), n = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
        var y = x.floats
        guard n > 0 else { return [Tensor(shape: x.shape, floats: y)] }
        if inner == 1 {
            y.withUnsafeMutableBufferPointer { yc_softmax_rows($0.baseAddress, outer, n) }
            return [Tensor(shape: x.shape, floats: y)]
        }
        y.withUnsafeMutableBufferPointer { yp in
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * n * inner + i
                    var mx = -Float.infinity
                    for j in 0..<n { mx = max(mx, yp[base + j * inner]) }
                    var sum: Float = 0
                    for j in 0..<n {
                        let e = expf(yp[base + j * inner] - mx)
                        yp[base + j * inner] = e
                        sum += e
                    }
                    let r = 1 / sum
                    for j in 0..<n { yp[base + j * inner] *= r }
                }
            }
        }
        return [Tensor(shape: x.shape, floats: y)]
    }
}
