import CKernels
import Foundation
import Synchronization

/// Pooling kernels over any spatial rank. Each window reads the input positions its taps reach;
/// padding and positions past the padded input (ceil_mode) never contribute.
extension Kernels {
    static func poolWindow(_ ctx: KernelContext, _ x: Tensor) throws -> (SpatialWindow, [Int]) {
        let out = try ctx.outputShape()
        let ceil = ctx.attributes.int("ceil_mode") != 0
        let w = try SpatialWindow(ctx.attributes, input: Array(x.shape[2...]), kernel: nil, ceilMode: ceil, fail: ctx.fail)
        return (w, out)
    }

    static let maxPool: Kernel = { ctx in
        let x = try ctx.input(0)
        let (win, out) = try poolWindow(ctx, x)
        if x.dtype == .float32, x.shape.count == 4, ctx.outputTypes.count == 1 {
            return [Tensor(shape: out, floats: try maxPool2d(x.floats, x.shape, win, out, threads: ctx.threads, fail: ctx.fail))]
        }
        let inSpatial = Array(x.shape[2...]), outSpatial = Array(out[2...])
        let offsets = windowOffsets(input: inSpatial, output: outSpatial, window: win)
        let planes = x.shape[0] * x.shape[1], inPlane = inSpatial.reduce(1, *), plane = outSpatial.reduce(1, *)
        let taps = win.kernel.reduce(1, *)
        var indices = [Int64](repeating: 0, count: planes * plane)
        let wantIndices = ctx.outputTypes.count > 1
        let columnMajor = ctx.attributes.int("storage_order") == 1
        // The flat index ONNX reports: row-major over (N, C, spatial...), or with the spatial axes
        // column-major (storage_order 1: the first spatial axis varies fastest).
        let rowStrides = contiguousStrides(inSpatial)
        func index(_ p: Int, _ off: Int) -> Int64 {
            guard columnMajor else { return Int64(p * inPlane + off) }
            var flat = 0, step = 1, r = off
            for a in 0..<inSpatial.count {
                let coordinate = r / rowStrides[a]
                r %= rowStrides[a]
                flat += coordinate * step
                step *= inSpatial[a]
            }
            return Int64(p * inPlane + flat)
        }
        // ONNX does not say what a window with NaN, or one wholly in the padding, gives, and runtimes
        // differ (the first element wins, NaN is skipped, -FLT_MAX...): such input is refused.
        func run<T: Comparable>(_ v: [T], lowest: T, isNaN: (T) -> Bool) throws -> [T] {
            var y = [T](repeating: lowest, count: planes * plane)
            for p in 0..<planes {
                let base = p * inPlane
                for o in 0..<plane {
                    var best = lowest, at = -1
                    for t in 0..<taps {
                        let i = offsets[t * plane + o]
                        guard i >= 0 else { continue }
                        if isNaN(v[base + i]) { throw ctx.fail("a window holds NaN, which ONNX leaves MaxPool's result undefined for") }
                        if at < 0 || v[base + i] > best { best = v[base + i]; at = i }
                    }
                    guard at >= 0 else { throw ctx.fail("a window lies wholly in the padding, which ONNX leaves undefined") }
                    y[p * plane + o] = best
                    if wantIndices { indices[p * plane + o] = index(p, at) }
                }
            }
            return y
        }
        var result: [Tensor]
        switch x.dtype.storage {
        case .floats: result = [Tensor(shape: out, floats: try run(x.floats, lowest: -.infinity, isNaN: { $0.isNaN }), dtype: x.dtype)]
        case .doubles: result = [Tensor(shape: out, doubles: try run(x.doubles, lowest: -.infinity, isNaN: { $0.isNaN }))]
        case .ints: result = [Tensor(shape: out, ints: try run(x.ints, lowest: .min, isNaN: { _ in false }), dtype: x.dtype)]
        }
        if wantIndices { result.append(Tensor(shape: out, ints: indices)) }
        return result
    }

    /// 2-D float32 max pooling, separably (Sources/CKernels/maxpool.c): each input row's maxima over
    /// the window's columns, then each output's maximum over the window's rows, planes split across threads. The first
    /// maximum in the window's row-major order wins, as in the general loop (which matters for 0 and
    /// -0): the first row holding the maximum, and the first column in it.
    static func maxPool2d(_ x: [Float], _ shape: [Int], _ win: SpatialWindow, _ out: [Int], threads: Int,
                          fail: (String) -> InterpreterError) throws -> [Float] {
        let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        let (oh, ow) = (out[2], out[3])
        let (kh, kw) = (win.kernel[0], win.kernel[1]), (sh, sw) = (win.strides[0], win.strides[1])
        let (dh, dw) = (win.dilations[0], win.dilations[1]), (pt, pl) = (win.pads[0], win.pads[1])
        let count = planes * oh * ow
        guard count > 0 else { return [] }
        // Per output column, its taps' input columns inside the image, [first, last] as tap numbers.
        func taps(_ o: Int, _ k: Int, _ s: Int, _ d: Int, _ p: Int, _ n: Int) -> Range<Int> {
            var lo = 0, hi = k
            while lo < k && o * s + lo * d - p < 0 { lo += 1 }
            while hi > lo && o * s + (hi - 1) * d - p >= n { hi -= 1 }
            return lo..<hi
        }
        let columnTaps = (0..<ow).map { taps($0, kw, sw, dw, pl, w) }
        let rowTaps = (0..<oh).map { taps($0, kh, sh, dh, pt, h) }
        if columnTaps.contains(where: \.isEmpty) || rowTaps.contains(where: \.isEmpty) {
            throw fail("a window lies wholly in the padding, which ONNX leaves undefined")
        }
        let nan = Atomic<Bool>(false)
        let scratchFloats = yc_max_pool_scratch(h, w, kh, kw, sh, sw, dh, dw, pl, oh, ow)
        let y = [Float](unsafeUninitializedCapacity: count) { yb, initialized in
            x.withUnsafeBufferPointer { xb in
                let (xp, yp) = (xb.baseAddress!, yb.baseAddress!)
                parallelRanges(planes, threads: threads, grain: Swift.max(1, (1 << 15) / Swift.max(h * w, 1))) { range in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchFloats)
                    defer { scratch.deallocate() }
                    for p in range where yc_max_pool_plane(xp + p * h * w, h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, scratch,
                                                           yp + p * oh * ow) != 0 {
                        nan.store(true, ordering: .relaxed)
                        break
                    }
                }
            }
            initialized = count
        }
        if nan.load(ordering: .relaxed) { throw fail("a window holds NaN, which ONNX leaves MaxPool's result undefined for") }
        return y
    }

    /// The mean over each window: over the positions inside the input (count_include_pad 0) or
    /// inside the padded input (1); positions past the padded input (ceil_mode) never count.
    static let averagePool: Kernel = { ctx in
        let x = try ctx.input(0)
        let (win, out) = try poolWindow(ctx, x)
        let includePad = ctx.attributes.int("count_include_pad") != 0
        do {
            return [try windowReduce(x, win, out, includePad: includePad) { values in
                values.reduce(0, +)
            } finish: { sum, n in sum / Double(n) }]
        } catch is PoolingWindowError {
            throw ctx.fail("a window lies wholly in the padding, which ONNX leaves undefined")
        }
    }

    static let lpPool: Kernel = { ctx in
        let x = try ctx.input(0)
        let (win, out) = try poolWindow(ctx, x)
        let p = Double(ctx.attributes.int("p"))
        guard p >= 1 else { throw ctx.fail("attribute 'p' must be at least 1, got \(Int(p))") }
        do {
            return [try windowReduce(x, win, out, includePad: false) { values in
                values.reduce(0) { $0 + Foundation.pow(Swift.abs($1), p) }
            } finish: { sum, _ in Foundation.pow(sum, 1 / p) }]
        } catch is PoolingWindowError {
            throw ctx.fail("a window lies wholly in the padding, which ONNX leaves undefined")
        }
    }

    struct PoolingWindowError: Error {}

    /// Sums each window's values in Double through `combine`, then `finish(sum, divisor)`.
    static func windowReduce(_ x: Tensor, _ win: SpatialWindow, _ out: [Int], includePad: Bool,
                             _ combine: ([Double]) -> Double, finish: (Double, Int) -> Double) throws -> Tensor {
        let inSpatial = Array(x.shape[2...]), outSpatial = Array(out[2...])
        let rank = inSpatial.count
        let offsets = windowOffsets(input: inSpatial, output: outSpatial, window: win)
        let planes = x.shape[0] * x.shape[1], inPlane = inSpatial.reduce(1, *), plane = outSpatial.reduce(1, *)
        let taps = win.kernel.reduce(1, *)
        // Per output position, how many taps fall inside the padded input.
        var padded = [Int](repeating: 1, count: plane)
        var pos = [Int](repeating: 0, count: rank)
        for o in 0..<plane {
            var n = 1
            for a in 0..<rank {
                var c = 0
                for k in 0..<win.kernel[a] {
                    let i = pos[a] * win.strides[a] + k * win.dilations[a] - win.pads[a]
                    if i >= -win.pads[a] && i < inSpatial[a] + win.pads[a + rank] { c += 1 }
                }
                n *= c
            }
            padded[o] = n
            var a = rank - 1
            while a >= 0 { pos[a] += 1; if pos[a] < outSpatial[a] { break }; pos[a] = 0; a -= 1 }
        }
        let v = x.doubleValues
        var y = [Double](repeating: 0, count: planes * plane)
        var window: [Double] = []
        window.reserveCapacity(taps)
        for p in 0..<planes {
            let base = p * inPlane
            for o in 0..<plane {
                window.removeAll(keepingCapacity: true)
                for t in 0..<taps {
                    let i = offsets[t * plane + o]
                    if i >= 0 { window.append(v[base + i]) }
                }
                let divisor = includePad ? padded[o] : window.count
                guard !window.isEmpty, divisor > 0 else { throw PoolingWindowError() }
                y[p * plane + o] = finish(combine(window), divisor)
            }
        }
        return Tensor(shape: out, values: y, dtype: x.dtype)
    }

    static func globalPool(max: Bool) -> Kernel {
        { ctx in
            let x = try ctx.input(0)
            let planes = x.shape[0] * x.shape[1], inner = x.shape[2...].reduce(1, *)
            let out = try ctx.outputShape()
            if x.dtype == .float32 && !max {
                // Each plane summed in order in double; four planes at a time, so that four chains of
                // additions overlap, and the planes split across threads.
                var y = [Float](repeating: 0, count: planes)
                x.floats.withUnsafeBufferPointer { xb in
                y.withUnsafeMutableBufferPointer { yb in
                    let (xp, yp) = (xb.baseAddress!, yb.baseAddress!)
                    parallelRanges((planes + 3) / 4, threads: ctx.threads, grain: Swift.max(1, (1 << 14) / Swift.max(4 * inner, 1))) { range in
                        for quad in range {
                            let p0 = 4 * quad
                            if p0 + 4 <= planes {
                                let (a, b, c, d) = (xp + p0 * inner, xp + (p0 + 1) * inner, xp + (p0 + 2) * inner, xp + (p0 + 3) * inner)
                                var (s0, s1, s2, s3): (Double, Double, Double, Double) = (0, 0, 0, 0)
                                for i in 0..<inner { s0 += Double(a[i]); s1 += Double(b[i]); s2 += Double(c[i]); s3 += Double(d[i]) }
                                let count = Double(inner)
                                (yp[p0], yp[p0 + 1], yp[p0 + 2], yp[p0 + 3]) = (Float(s0 / count), Float(s1 / count), Float(s2 / count), Float(s3 / count))
                            } else {
                                for p in p0..<planes {
                                    var s: Double = 0
                                    for i in 0..<inner { s += Double(xp[p * inner + i]) }
                                    yp[p] = Float(s / Double(inner))
                                }
                            }
                        }
                    }
                } }
                return [Tensor(shape: out, floats: y)]
            }
            let v = x.doubleValues
            var y = [Double](repeating: 0, count: planes)
            for p in 0..<planes {
                let slice = v[(p * inner)..<((p + 1) * inner)]
                y[p] = max ? (slice.contains { $0.isNaN } ? .nan : slice.max() ?? .nan) : slice.reduce(0, +) / Double(inner)
            }
            return [Tensor(shape: out, values: y, dtype: x.dtype)]
        }
    }
}
