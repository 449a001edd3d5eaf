/// BatchNormalization in inference form: y = (x - mean) / sqrt(var + eps) * scale + bias, per channel.
func registerNormalization(_ t: inout [String: Kernel]) {
    t["BatchNormalization"] = { ctx in
        let x = try ctx.input(0)
        let scale = try ctx.input(1).floats, bias = try ctx.input(2).floats
        let mean = try ctx.input(3).floats, variance = try ctx.input(4).floats
        let eps = ctx.node.float("epsilon", default: 1e-5)
        let c = x.shape[1]
        let inner = x.shape[2...].reduce(1, *)
        var y = x.floats
        y.withUnsafeMutableBufferPointer { yp in
            for n in 0..<x.shape[0] {
                for ch in 0..<c {
                    let k = scale[ch] / (variance[ch] + eps).squareRoot()
                    let m = mean[ch], b = bias[ch]
                    let base = (n * c + ch) * inner
                    for i in 0..<inner { yp[base + i] = (yp[base + i] - m) * k + b }
                }
            }
        }
        return [Tensor(shape: x.shape, floats: y)]
    }
}

/// LayerNormalization over the axes from `axis` on; mean and variance accumulate in Double.
func registerLayerNormalization(_ t: inout [String: Kernel]) {
    t["LayerNormalization"] = { ctx in
        let x = try ctx.input(0)
        var axis = ctx.node.int("axis", default: -1)
        if axis < 0 { axis += x.shape.count }
        let eps = Double(ctx.node.float("epsilon", default: 1e-5))
        let rows = x.shape[..<axis].reduce(1, *), n = x.shape[axis...].reduce(1, *)
        // Scale and bias broadcast to the normalised shape.
        func expand(_ t: Tensor?) -> [Float]? {
            guard let t else { return nil }
            if t.count == n { return t.floats }
            return broadcast(t.floats, t.shape, [0], [1], Array(x.shape[axis...])) { a, _ in a }
        }
        let scale = expand(try ctx.input(1)), bias = expand(ctx.optional(2))
        var y = x.floats
        y.withUnsafeMutableBufferPointer { yp in
            for r in 0..<rows {
                let base = r * n
                var mean: Double = 0
                for i in 0..<n { mean += Double(yp[base + i]) }
                mean /= Double(n)
                var variance: Double = 0
                for i in 0..<n { let d = Double(yp[base + i]) - mean; variance += d * d }
                let inv = 1 / (variance / Double(n) + eps).squareRoot()
                for i in 0..<n {
                    var v = Float((Double(yp[base + i]) - mean) * inv)
                    if let scale { v *= scale[i] }
                    if let bias { v += bias[i] }
                    yp[base + i] = v
                }
            }
        }
        return [Tensor(shape: x.shape, floats: y)]
    }
}
