/// MaxPool over NCHW with padding (padded cells never win).
func registerPooling(_ t: inout [String: Kernel]) {
    t["MaxPool"] = { ctx in
        let x = try ctx.input(0)
        let out = ctx.outputTypes[0].shape
        let k = ctx.node.ints("kernel_shape") ?? [1, 1]
        let s = ctx.node.ints("strides") ?? [1, 1]
        let p = ctx.node.ints("pads") ?? [0, 0, 0, 0]
        let d = ctx.node.ints("dilations") ?? [1, 1]
        let (h, w) = (x.shape[2], x.shape[3])
        let (oh, ow) = (out[2], out[3])
        let planes = x.shape[0] * x.shape[1]
        var y = [Float](repeating: 0, count: planes * oh * ow)
        x.floats.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                for pl in 0..<planes {
                    let src = xp.baseAddress! + pl * h * w
                    let dst = yp.baseAddress! + pl * oh * ow
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            var m = -Float.infinity
                            for i in 0..<k[0] {
                                let iy = oy * s[0] - p[0] + i * d[0]
                                if iy < 0 || iy >= h { continue }
                                for j in 0..<k[1] {
                                    let ix = ox * s[1] - p[1] + j * d[1]
                                    if ix < 0 || ix >= w { continue }
                                    m = max(m, src[iy * w + ix])
                                }
                            }
                            dst[oy * ow + ox] = m
                        }
                    }
                }
            }
        }
        return [Tensor(shape: out, floats: y)]
    }
}
