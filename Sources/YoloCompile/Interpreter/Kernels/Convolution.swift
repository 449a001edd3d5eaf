import CBLAS

/// Conv as im2col + sgemm, one matrix product per image and group. A 1x1, stride-1, unpadded
/// convolution reads its input directly as the column matrix (no copy).
func registerConvolution(_ t: inout [String: Kernel]) {
    t["Conv"] = { ctx in
        let x = try ctx.input(0), w = try ctx.input(1), bias = ctx.optional(2)
        let out = ctx.outputTypes[0].shape
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (m, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let g = ctx.node.int("group", default: 1)
        let s = ctx.node.ints("strides") ?? [1, 1]
        let p = ctx.node.ints("pads") ?? [0, 0, 0, 0]
        let d = ctx.node.ints("dilations") ?? [1, 1]
        let (oh, ow) = (out[2], out[3])
        let k = cg * kh * kw, plane = oh * ow, mg = m / g
        let direct = kh == 1 && kw == 1 && s == [1, 1] && p.allSatisfy { $0 == 0 }
        var y = [Float](repeating: 0, count: n * m * plane)
        if cg == 1 && g == c && m == g {
            // Depthwise: one small kernel per channel; a direct loop beats g one-row products.
            x.floats.withUnsafeBufferPointer { xp in
            w.floats.withUnsafeBufferPointer { wp in
            y.withUnsafeMutableBufferPointer { yp in
                for b in 0..<n {
                    for ch in 0..<c {
                        depthwisePlane(xp.baseAddress! + (b * c + ch) * h * wd, height: h, width: wd,
                                       weights: wp.baseAddress! + ch * kh * kw, kh: kh, kw: kw, sh: s[0], sw: s[1],
                                       pt: p[0], pl: p[1], dh: d[0], dw: d[1], oh: oh, ow: ow,
                                       into: yp.baseAddress! + (b * m + ch) * plane)
                    }
                }
            } } }
            if let bias { addBias(&y, bias.floats, batch: n, channels: m, plane: plane) }
            return [Tensor(shape: out, floats: y)]
        }
        var col = [Float](repeating: 0, count: direct ? 0 : k * plane)
        x.floats.withUnsafeBufferPointer { xp in
        w.floats.withUnsafeBufferPointer { wp in
        y.withUnsafeMutableBufferPointer { yp in
        col.withUnsafeMutableBufferPointer { cp in
            for b in 0..<n {
                for gi in 0..<g {
                    let src = xp.baseAddress! + (b * c + gi * cg) * h * wd
                    let matrix: UnsafePointer<Float>
                    if direct {
                        matrix = UnsafePointer(src)
                    } else {
                        im2col(src, channels: cg, height: h, width: wd, kh: kh, kw: kw, sh: s[0], sw: s[1],
                               pt: p[0], pl: p[1], dh: d[0], dw: d[1], oh: oh, ow: ow, into: cp.baseAddress!)
                        matrix = UnsafePointer(cp.baseAddress!)
                    }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(mg), Int32(plane), Int32(k), 1,
                                wp.baseAddress! + gi * mg * k, Int32(k), matrix, Int32(plane), 0,
                                yp.baseAddress! + (b * m + gi * mg) * plane, Int32(plane))
                }
            }
        } } } }
        if let bias { addBias(&y, bias.floats, batch: n, channels: m, plane: plane) }
        return [Tensor(shape: out, floats: y)]
    }
}

func addBias(_ y: inout [Float], _ bias: [Float], batch: Int, channels: Int, plane: Int) {
    y.withUnsafeMutableBufferPointer { yp in
        for b in 0..<batch { for o in 0..<channels {
            let v = bias[o]
            let base = (b * channels + o) * plane
            for i in 0..<plane { yp[base + i] += v }
        } }
    }
}

/// One channel of a depthwise convolution, accumulated tap by tap over output rows (the inner loop
/// is contiguous for stride 1, so it vectorises).
@inline(__always)
func depthwisePlane(_ src: UnsafePointer<Float>, height: Int, width: Int, weights: UnsafePointer<Float>, kh: Int, kw: Int,
                    sh: Int, sw: Int, pt: Int, pl: Int, dh: Int, dw: Int, oh: Int, ow: Int,
                    into dst: UnsafeMutablePointer<Float>)
{
    for ki in 0..<kh {
        for kj in 0..<kw {
            let wv = weights[ki * kw + kj]
            let xoff = kj * dw - pl
            var lo = 0, hi = ow
            while lo < ow && lo * sw + xoff < 0 { lo += 1 }
            while hi > lo && (hi - 1) * sw + xoff >= width { hi -= 1 }
            guard hi > lo else { continue }
            for oy in 0..<oh {
                let iy = oy * sh + ki * dh - pt
                guard iy >= 0 && iy < height else { continue }
                let line = src + iy * width + xoff
                let d = dst + oy * ow
                if sw == 1 {
                    for ox in lo..<hi { d[ox] += wv * line[ox] }
                } else {
                    for ox in lo..<hi { d[ox] += wv * line[ox * sw] }
                }
            }
        }
    }
}

/// Lays out every receptive field of a (channels, height, width) image as a column.
@inline(__always)
func im2col(_ src: UnsafePointer<Float>, channels: Int, height: Int, width: Int, kh: Int, kw: Int,
            sh: Int, sw: Int, pt: Int, pl: Int, dh: Int, dw: Int, oh: Int, ow: Int,
            into col: UnsafeMutablePointer<Float>)
{
    var row = 0
    for c in 0..<channels {
        let plane = src + c * height * width
        for ki in 0..<kh {
            for kj in 0..<kw {
                let dst = col + row * oh * ow
                let xoff = kj * dw - pl
                // Output columns whose input column is inside the image: [lo, hi).
                var lo = 0, hi = ow
                while lo < ow && lo * sw + xoff < 0 { lo += 1 }
                while hi > lo && (hi - 1) * sw + xoff >= width { hi -= 1 }
                for oy in 0..<oh {
                    let iy = oy * sh + ki * dh - pt
                    let d = dst + oy * ow
                    if iy < 0 || iy >= height {
                        d.update(repeating: 0, count: ow)
                        continue
                    }
                    let line = plane + iy * width
                    if lo > 0 { d.update(repeating: 0, count: lo) }
                    if sw == 1 {
                        if hi > lo { d.advanced(by: lo).update(from: line + lo + xoff, count: hi - lo) }
                    } else {
                        var ix = lo * sw + xoff
                        for ox in lo..<hi { d[ox] = line[ix]; ix += sw }
                    }
                    if hi < ow { d.advanced(by: hi).update(repeating: 0, count: ow - hi) }
                }
                row += 1
            }
        }
    }
}
