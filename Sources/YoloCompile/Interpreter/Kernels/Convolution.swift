import CKernels

/// Conv over blocks of output rows, with the bias and any fused activation applied to each block
/// while it is in cache: a direct kernel where the CPU has AVX-512 (`directConv2d`; Winograd for wide
/// 3x3 stride-1 ones, `winogradConv2d`), else im2col +
/// sgemm (a 1x1, stride-1, unpadded convolution reading its input directly as the column matrix); a
/// depthwise one runs a direct loop per channel. 1-D convolutions run as 2-D ones of height 1; 3-D
/// ones (and float64) through an N-D im2col.
extension Kernels {
    static let conv: Kernel = { ctx in
        try ctx.requireBLAS()
        var x = try ctx.input(0), w = try ctx.input(1)
        let bias = ctx.optional(2)
        var out = try ctx.outputShape()
        let g = ctx.attributes.int("group")
        var win = try SpatialWindow(ctx.attributes, input: Array(x.shape[2...]), kernel: Array(w.shape[2...]), fail: ctx.fail)
        let dtype = x.dtype
        if x.shape.count == 3 {
            // (N, C, L) as (N, C, 1, L).
            x = x.reshaped([x.shape[0], x.shape[1], 1, x.shape[2]])
            w = w.reshaped([w.shape[0], w.shape[1], 1, w.shape[2]])
            out = [out[0], out[1], 1, out[2]]
            win = SpatialWindow(kernel: [1, win.kernel[0]], strides: [1, win.strides[0]], dilations: [1, win.dilations[0]],
                                pads: [0, win.pads[0], 0, win.pads[1]], output: [1, win.output[0]])
        }
        let m = out[1], plane = out[2...].reduce(1, *)
        if dtype == .float64 {
            var y = convND(x.doubles, x.shape, w.doubles, w.shape, g, win, out, threads: ctx.threads)
            if let bias { addBias(&y, bias.doubles, batch: out[0], channels: m, plane: plane) }
            return [Tensor(shape: try ctx.outputShape(), doubles: y)]
        }
        var y: [Float]
        if x.shape.count == 4 {
            y = conv2d(x.floats, x.shape, w.floats, w.shape, bias: bias?.floats, g, win, out, activation: ctx.activation,
                       threads: ctx.threads)
        } else {
            y = convND(x.floats, x.shape, w.floats, w.shape, g, win, out, threads: ctx.threads)
            if let bias { addBias(&y, bias.floats, batch: out[0], channels: m, plane: plane) }
            if ctx.activation != .identity {
                y.withUnsafeMutableBufferPointer { ctx.activation.apply($0.baseAddress!, count: $0.count, bias: nil) }
            }
        }
        return [Tensor(shape: try ctx.outputShape(), floats: y, dtype: dtype)]
    }

    /// Floats of one worker's column block: about 512 KiB, so that the block, the output rows it
    /// makes and the weights stay in a core's L2 cache through the product and the output pass.
    static let columnBlockFloats = 1 << 17
    /// At least this many row blocks per image (where it has the rows), so that small deep layers
    /// still split across threads.
    static let minimumBlocks = 4

    /// A 2-D convolution, x (n, c, h, w) and w (m, c / g, kh, kw), with bias and activation applied
    /// to each block of output rows as soon as the block is computed. The work is split into tasks of
    /// one image, group and block of output rows (one depthwise channel), run across `threads`. The
    /// im2col path's blocks depend on the image's shape alone (`columnBlockFloats`, `minimumBlocks`).
    static func conv2d(_ x: [Float], _ xShape: [Int], _ w: [Float], _ wShape: [Int], bias: [Float]?, _ g: Int,
                       _ win: SpatialWindow, _ out: [Int], activation: FusedActivation, threads: Int) -> [Float] {
        let (n, c, h, wd) = (xShape[0], xShape[1], xShape[2], xShape[3])
        let (m, cg, kh, kw) = (wShape[0], wShape[1], wShape[2], wShape[3])
        let s = win.strides, d = win.dilations, p = win.pads
        let (oh, ow) = (out[2], out[3])
        let k = cg * kh * kw, plane = oh * ow, mg = m / g
        let count = n * m * plane
        guard count > 0 else { return [] }
        let bias = bias ?? []
        return [Float](unsafeUninitializedCapacity: count) { yb, initialized in
            let yp = yb.baseAddress!
            x.withUnsafeBufferPointer { xb in
            w.withUnsafeBufferPointer { wb in
            bias.withUnsafeBufferPointer { bb in
                let xp = xb.baseAddress!, wp = wb.baseAddress!
                let biasOf = { (o: Int) -> Float? in bb.isEmpty ? nil : bb[o] }
                let biasPointer = bb.isEmpty ? nil : bb.baseAddress
                if cg == 1 && g == c && m == g {
                    // Depthwise: one small kernel per channel over its stride phases; a direct loop beats g one-row products.
                    let layout = ConvPhases(height: h, width: wd, window: win, kh: kh, kw: kw, channels: 1, asIs: false)
                    let taps = kh * kw
                    // Runs of channels per task, about 16K output floats each, so that small planes (windowed
                    // attention's 7x7) do not pay for a task and a phase layout each.
                    let perTask = Swift.max(1, Swift.min(n * c, (1 << 14) / Swift.max(plane, 1)))
                    let tasks = (n * c + perTask - 1) / perTask
                    // Per worker: a run of channels' phases, then YC_DEPTHWISE_TAIL readable floats.
                    let phaseFloats = perTask * layout.channelFloats + Int(YC_DEPTHWISE_TAIL)
                    let workers = parallelWorkers(tasks, threads: threads)
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: workers * phaseFloats)
                    scratch.initialize(repeating: 0, count: workers * phaseFloats)
                    defer { scratch.deallocate() }
                    layout.offsets.withUnsafeBufferPointer { ob in
                        parallelTasks(tasks, threads: threads) { worker, task in
                            let t0 = task * perTask, t1 = Swift.min(n * c, t0 + perTask)
                            let phases = scratch + worker * phaseFloats
                            layout.fill(from: xp + t0 * h * wd, into: phases, channels: t1 - t0)
                            for t in t0..<t1 {
                                let ch = t % c
                                var pass = activation.outputPass(bias: biasPointer.map { $0 + ch })
                                yc_depthwise_phases(phases + (t - t0) * layout.channelFloats, layout.wq, ob.baseAddress!, wp + ch * taps, taps,
                                                    oh, ow, yp + t * plane, &pass)
                            }
                        }
                    }
                    return
                }
                guard k > 0 else {
                    // No input channels: the bias alone.
                    for t in 0..<(n * m) {
                        (yp + t * plane).update(repeating: 0, count: plane)
                        activation.apply(yp + t * plane, count: plane, bias: biasOf(t % m))
                    }
                    return
                }
                if DirectConvolution.enabled && DirectConvolution.supported {
                    if WinogradConvolution.applies(c: c, m: m, g: g, kh: kh, kw: kw, window: win, out: out) {
                        winogradConv2d(xp, xShape, wp, wShape, win, out, yp, activation: activation, bias: biasPointer, threads: threads)
                        return
                    }
                    directConv2d(xp, xShape, wp, wShape, g, win, out, yp, activation: activation, bias: biasPointer, threads: threads)
                    return
                }
                // A 1x1, stride-1, unpadded convolution reads its input rows as the column matrix.
                let direct = kh == 1 && kw == 1 && s == [1, 1] && p.allSatisfy { $0 == 0 }
                // The blocks depend on the image's shape alone, never on the batch or the thread count,
                // so every image gets the same products (BLAS's result can depend on a product's size)
                // and the output is the same bits however it is run.
                var rows = Swift.max(1, Swift.min(oh, columnBlockFloats / Swift.max(k * ow, 1)))
                if (oh + rows - 1) / rows < minimumBlocks { rows = (oh + minimumBlocks - 1) / minimumBlocks }
                let blocks = (oh + rows - 1) / rows
                let tasks = n * g * blocks
                let columnFloats = direct ? 0 : k * rows * ow
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, columnFloats * parallelWorkers(tasks, threads: threads)))
                defer { scratch.deallocate() }
                parallelTasks(tasks, threads: threads) { worker, t in
                    let block = t % blocks, gi = (t / blocks) % g, b = t / (blocks * g)
                    let r0 = block * rows, r1 = Swift.min(oh, r0 + rows), cols = (r1 - r0) * ow
                    let src = xp + (b * c + gi * cg) * h * wd
                    let dst = yp + (b * m + gi * mg) * plane + r0 * ow
                    let matrix: UnsafePointer<Float>, ldb: Int
                    if direct {
                        (matrix, ldb) = (src + r0 * ow, plane)
                    } else {
                        let col = scratch + worker * columnFloats
                        im2col(src, channels: cg, height: h, width: wd, kh: kh, kw: kw, sh: s[0], sw: s[1],
                               pt: p[0], pl: p[1], dh: d[0], dw: d[1], rows: r0..<r1, ow: ow, into: col)
                        (matrix, ldb) = (UnsafePointer(col), cols)
                    }
                    yc_sgemm(0, 0, Int32(mg), Int32(cols), Int32(k), 1, wp + gi * mg * k, Int32(k), matrix, Int32(ldb), 0, dst, Int32(plane))
                    for o in 0..<mg { activation.apply(dst + o * plane, count: cols, bias: biasOf(gi * mg + o)) }
                }
            } } }
            initialized = count
        }
    }

    /// Any spatial rank and float32 or float64: an N-D im2col, then the same products.
    static func convND<T: GemmElement>(_ xv: [T], _ xShape: [Int], _ wv: [T], _ wShape: [Int], _ g: Int, _ win: SpatialWindow,
                                       _ out: [Int], threads: Int) -> [T] {
        let n = xShape[0], c = xShape[1], m = wShape[0], cg = wShape[1]
        let inSpatial = Array(xShape[2...]), outSpatial = Array(out[2...])
        let taps = win.kernel.reduce(1, *), plane = outSpatial.reduce(1, *), inPlane = inSpatial.reduce(1, *)
        let k = cg * taps, mg = m / g
        var y = [T](repeating: 0, count: n * m * plane)
        guard y.count > 0, k > 0 else { return y }
        let offsets = windowOffsets(input: inSpatial, output: outSpatial, window: win)
        var col = [T](repeating: 0, count: k * plane)
        xv.withUnsafeBufferPointer { xp in
        wv.withUnsafeBufferPointer { wp in
        y.withUnsafeMutableBufferPointer { yp in
        col.withUnsafeMutableBufferPointer { cp in
            for b in 0..<n {
                for gi in 0..<g {
                    for ch in 0..<cg {
                        let src = xp.baseAddress! + (b * c + gi * cg + ch) * inPlane
                        for t in 0..<taps {
                            let row = cp.baseAddress! + (ch * taps + t) * plane
                            for o in 0..<plane {
                                let i = offsets[t * plane + o]
                                row[o] = i >= 0 ? src[i] : 0
                            }
                        }
                    }
                    T.parallelGemm(false, false, mg, plane, k, wp.baseAddress! + gi * mg * k, k, cp.baseAddress!, plane,
                                   yp.baseAddress! + (b * m + gi * mg) * plane, plane, threads: threads)
                }
            }
        } } } }
        return y
    }
}

/// float32 and float64 matrix products (OpenBLAS sgemm, dgemm; `BLAS`): C = op(A) * op(B), row-major.
protocol GemmElement: BinaryFloatingPoint {
    static func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Self>, _ lda: Int,
                     _ b: UnsafePointer<Self>, _ ldb: Int, _ c: UnsafeMutablePointer<Self>, _ ldc: Int)
}

extension GemmElement {
    /// The same product with C split into blocks of rows (C taller than wide) or columns, each its
    /// own BLAS call (BLAS runs single-threaded: `BLAS`), the blocks spread over `threads`. The split
    /// depends on the shape alone, never on the thread count, so the result is the same bits however
    /// many threads run it.
    static func parallelGemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Self>, _ lda: Int,
                             _ b: UnsafePointer<Self>, _ ldb: Int, _ c: UnsafeMutablePointer<Self>, _ ldc: Int, threads: Int) {
        guard m > 0, n > 0, k > 0 else { return }
        let byRows = m >= n
        // Up to 8 blocks of at least 64 rows or columns, where the product is big enough to pay for a thread.
        let parts = m * n * k < 1 << 18 ? 1 : Swift.max(1, Swift.min(8, (byRows ? m : n) / 64))
        parallelTasks(parts, threads: threads) { _, part in
            if byRows {
                let i0 = m * part / parts, i1 = m * (part + 1) / parts
                gemm(transA, transB, i1 - i0, n, k, transA ? a + i0 : a + i0 * lda, lda, b, ldb, c + i0 * ldc, ldc)
            } else {
                let j0 = n * part / parts, j1 = n * (part + 1) / parts
                gemm(transA, transB, m, j1 - j0, k, a, lda, transB ? b + j0 * ldb : b + j0, ldb, c + j0, ldc)
            }
        }
    }
}

extension Float: GemmElement {
    static func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int,
                     _ b: UnsafePointer<Float>, _ ldb: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        yc_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), 0, c, Int32(ldc))
    }
}

extension Double: GemmElement {
    static func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Double>, _ lda: Int,
                     _ b: UnsafePointer<Double>, _ ldb: Int, _ c: UnsafeMutablePointer<Double>, _ ldc: Int) {
        yc_dgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), 0, c, Int32(ldc))
    }
}

/// For each kernel tap t and output position o (row-major over the spatial axes), the flat input
/// position the tap reads, or -1 where it falls in the padding: entry t * outputPositions + o.
func windowOffsets(input: [Int], output: [Int], window w: SpatialWindow) -> [Int] {
    tapMap(over: output, into: input, kernel: w.kernel, strides: w.strides, dilations: w.dilations, pads: w.pads)
}

/// For each tap t and position p of `over` (row-major), the flat position p * stride + t * dilation -
/// pad_begin in `into`, or -1 outside it: entry t * positions + p. A convolution maps its outputs into
/// its input this way; a transposed one its inputs into its output.
func tapMap(over: [Int], into: [Int], kernel: [Int], strides: [Int], dilations: [Int], pads: [Int]) -> [Int] {
    let rank = over.count
    let taps = kernel.reduce(1, *), plane = over.reduce(1, *)
    let intoStrides = contiguousStrides(into)
    var result = [Int](repeating: -1, count: taps * plane)
    var tap = [Int](repeating: 0, count: rank)
    for t in 0..<taps {
        var pos = [Int](repeating: 0, count: rank)
        for o in 0..<plane {
            var flat = 0, inside = true
            for a in 0..<rank {
                let i = pos[a] * strides[a] + tap[a] * dilations[a] - pads[a]
                if i < 0 || i >= into[a] { inside = false; break }
                flat += i * intoStrides[a]
            }
            if inside { result[t * plane + o] = flat }
            var a = rank - 1
            while a >= 0 { pos[a] += 1; if pos[a] < over[a] { break }; pos[a] = 0; a -= 1 }
        }
        var a = rank - 1
        while a >= 0 { tap[a] += 1; if tap[a] < kernel[a] { break }; tap[a] = 0; a -= 1 }
    }
    return result
}

func addBias<T: BinaryFloatingPoint>(_ y: inout [T], _ bias: [T], batch: Int, channels: Int, plane: Int) {
    y.withUnsafeMutableBufferPointer { yp in
        for b in 0..<batch { for o in 0..<channels {
            let v = bias[o]
            let base = (b * channels + o) * plane
            for i in 0..<plane { yp[base + i] += v }
        } }
    }
}

/// Lays out the receptive fields of output rows `rows` of a (channels, height, width) image as the
/// columns of a (channels x kh x kw, rows.count x ow) matrix.
@inline(__always)
func im2col(_ src: UnsafePointer<Float>, channels: Int, height: Int, width: Int, kh: Int, kw: Int,
            sh: Int, sw: Int, pt: Int, pl: Int, dh: Int, dw: Int, rows: Range<Int>, ow: Int,
            into col: UnsafeMutablePointer<Float>)
{
    var row = 0
    let cols = rows.count * ow
    for c in 0..<channels {
        let plane = src + c * height * width
        for ki in 0..<kh {
            for kj in 0..<kw {
                let dst = col + row * cols
                let xoff = kj * dw - pl
                // Output columns whose input column is inside the image: [lo, hi).
                var lo = 0, hi = ow
                while lo < ow && lo * sw + xoff < 0 { lo += 1 }
                while hi > lo && (hi - 1) * sw + xoff >= width { hi -= 1 }
                for oy in rows {
                    let iy = oy * sh + ki * dh - pt
                    let d = dst + (oy - rows.lowerBound) * ow
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
