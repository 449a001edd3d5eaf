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
