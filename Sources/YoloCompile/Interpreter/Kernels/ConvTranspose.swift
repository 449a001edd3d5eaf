
/// ConvTranspose as the adjoint of im2col Conv: per image and group one sgemm W_g^T * X_g gives every
/// (output channel, tap) row over the input positions, and col2im scatters the rows into the output.
/// Any spatial rank; pads may be negative when output_shape asks for a larger output.
extension Kernels {
    static let convTranspose: Kernel = { ctx in
        try ctx.requireBLAS()
        let x = try ctx.input(0), w = try ctx.input(1), bias = ctx.optional(2)
        let out = try ctx.outputShape()
        let g = ctx.attributes.int("group")
        let win = try TransposedWindow(ctx.attributes, input: Array(x.shape[2...]), kernel: Array(w.shape[2...]), fail: ctx.fail)
        let n = x.shape[0], c = x.shape[1], mg = w.shape[1], m = out[1]
        let inSpatial = Array(x.shape[2...]), outSpatial = Array(out[2...])
        let rank = inSpatial.count
        let taps = win.kernel.reduce(1, *), plane = inSpatial.reduce(1, *), outPlane = outSpatial.reduce(1, *)
        let cg = c / g, rows = mg * taps
        let empty = plane == 0 || cg == 0 || rows == 0  // nothing to scatter: the output is the bias
        // For each tap and input position, the output position it adds into, or -1.
        let target = tapMap(over: inSpatial, into: outSpatial, kernel: win.kernel, strides: win.strides,
                            dilations: win.dilations, pads: win.pads)
        // col2im: one product per image and group, then every (output channel, tap) row scattered.
        func scatter<T: GemmElement>(_ xv: [T], _ wv: [T], _ bv: [T]?) -> [T] {
            var y = [T](repeating: 0, count: n * m * outPlane)
            var col = [T](repeating: 0, count: rows * plane)
            if !empty { xv.withUnsafeBufferPointer { xp in
            wv.withUnsafeBufferPointer { wp in
            y.withUnsafeMutableBufferPointer { yp in
            col.withUnsafeMutableBufferPointer { cp in
                for b in 0..<n {
                    for gi in 0..<g {
                        // W_g is (cg, mg*taps); col = W_g^T (rows x cg) * X_g (cg x plane).
                        T.parallelGemm(true, false, rows, plane, cg, wp.baseAddress! + gi * cg * rows, rows,
                                       xp.baseAddress! + (b * c + gi * cg) * plane, plane, cp.baseAddress!, plane, threads: ctx.threads)
                        for r in 0..<rows {
                            let oc = r / taps, t = r % taps
                            let dst = yp.baseAddress! + (b * m + gi * mg + oc) * outPlane
                            let src = cp.baseAddress! + r * plane
                            let map = t * plane
                            for i in 0..<plane {
                                let o = target[map + i]
                                if o >= 0 { dst[o] += src[i] }
                            }
                        }
                    }
                }
            } } } } }
            if let bv { addBias(&y, bv, batch: n, channels: m, plane: outPlane) }
            return y
        }
        if x.dtype == .float64 { return [Tensor(shape: out, doubles: scatter(x.doubles, w.doubles, bias?.doubles))] }
        return [Tensor(shape: out, floats: scatter(x.floats, w.floats, bias?.floats), dtype: x.dtype)]
    }
}
