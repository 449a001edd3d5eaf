import CBLAS

/// ConvTranspose as the adjoint of im2col Conv: per image and group one sgemm W_g^T * X_g gives every
/// (output channel, tap) row over the input positions, and col2im scatters the rows into the output.
func registerConvTranspose(_ t: inout [String: Kernel]) {
    t["ConvTranspose"] = { ctx in
        let x = try ctx.input(0), w = try ctx.input(1), bias = ctx.optional(2)
        let out = ctx.outputTypes[0].shape
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (mg, kh, kw) = (w.shape[1], w.shape[2], w.shape[3])
        let g = ctx.node.int("group", default: 1)
        let s = ctx.node.ints("strides") ?? [1, 1]
        let p = ctx.node.ints("pads") ?? [0, 0, 0, 0]
        let d = ctx.node.ints("dilations") ?? [1, 1]
        let (m, oh, ow) = (out[1], out[2], out[3])
        let cg = c / g, rows = mg * kh * kw, plane = h * wd
        var y = [Float](repeating: 0, count: n * m * oh * ow)
        var col = [Float](repeating: 0, count: rows * plane)
        x.floats.withUnsafeBufferPointer { xp in
        w.floats.withUnsafeBufferPointer { wp in
        y.withUnsafeMutableBufferPointer { yp in
        col.withUnsafeMutableBufferPointer { cp in
            for b in 0..<n {
                for gi in 0..<g {
                    // W_g is (cg, mg*kh*kw); col = W_g^T (rows x cg) * X_g (cg x plane).
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(rows), Int32(plane), Int32(cg), 1,
                                wp.baseAddress! + gi * cg * rows, Int32(rows),
                                xp.baseAddress! + (b * c + gi * cg) * plane, Int32(plane), 0,
                                cp.baseAddress!, Int32(plane))
                    for r in 0..<rows {
                        let oc = r / (kh * kw), ki = r / kw % kh, kj = r % kw
                        let dst = yp.baseAddress! + ((b * m + gi * mg + oc) * oh) * ow
                        let src = cp.baseAddress! + r * plane
                        for iy in 0..<h {
                            let oy = iy * s[0] + ki * d[0] - p[0]
                            guard oy >= 0 && oy < oh else { continue }
                            for ix in 0..<wd {
                                let ox = ix * s[1] + kj * d[1] - p[1]
                                guard ox >= 0 && ox < ow else { continue }
                                dst[oy * ow + ox] += src[iy * wd + ix]
                            }
                        }
                    }
                }
            }
        } } } }
        if let bias { addBias(&y, bias.floats, batch: n, channels: m, plane: oh * ow) }
        return [Tensor(shape: out, floats: y)]
    }
}
