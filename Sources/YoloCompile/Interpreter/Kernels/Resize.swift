import Foundation

/// Resize as the ONNX reference computes it: separable, one axis at a time. For each output position
/// the coordinate transformation gives a source coordinate, the mode gives weights for its nearest
/// neighbours (clamped to the edge; with exclude_outside, those outside get no weight), and
/// tf_crop_and_resize positions outside the input take extrapolation_value. Nearest mode picks one
/// element and so runs as a gather, for any element type; linear and cubic compute in Double.
extension Kernels {
    static let resize: Kernel = { ctx in
        let x = try ctx.input(0)
        let a = ctx.attributes
        let plan = try Operators.resizePlan(a, input: x.shape, scales: ctx.optional(2), sizes: ctx.optional(3), fail: ctx.fail)
        let rank = x.shape.count
        // roi as [start..., end...] over all axes.
        var roi: [Double]? = nil
        if let r = ctx.optional(1), r.count > 0 {
            let v = r.doubleValues
            guard v.count == 2 * plan.axes.count else { throw ctx.fail("roi must hold \(2 * plan.axes.count) values, got \(v.count)") }
            var full = [Double](repeating: 0, count: rank) + [Double](repeating: 1, count: rank)
            for (j, ax) in plan.axes.enumerated() { full[ax] = v[j]; full[rank + ax] = v[plan.axes.count + j] }
            roi = full
        }
        let mode = a.string("mode")
        let extrapolating = a.string("coordinate_transformation_mode") == "tf_crop_and_resize"
        // Interpolation runs in Double over every axis and rounds once at the end, as the reference does.
        var y = mode == "nearest" && !extrapolating ? x : Tensor(shape: x.shape, doubles: x.doubleValues)
        var current = x.shape
        for ax in plan.axes {
            let scale = plan.scales[ax], outSize = plan.sizes[ax]
            let axisRoi = roi.map { ($0[ax], $0[rank + ax]) }
            if scale == 1 && outSize == current[ax] && (axisRoi == nil || (axisRoi!.0 == 0 && axisRoi!.1 == 1)) { continue }
            let taps = try resizeTaps(a, inSize: current[ax], outSize: outSize, scale: scale, roi: axisRoi,
                                      roiIsFloat32: ctx.optional(1)?.dtype == .float32, fail: ctx.fail)
            var next = current
            next[ax] = outSize
            if mode == "nearest" && !taps.contains(where: { $0.extrapolate }) {
                let pick = taps.map { t in t.indices[t.weights.firstIndex(of: t.weights.max() ?? 1) ?? 0] }
                y = picked(y, current, axis: ax, pick: pick, threads: ctx.threads)
            } else {
                y = interpolate(y, current, ax, taps, extrapolation: Double(a.float("extrapolation_value")), next: next)
            }
            current = next
        }
        y = y.reshaped(current)
        guard y.dtype != x.dtype else { return [y] }
        if x.dtype.storage == .ints {
            var ints: [Int64] = []
            for v in y.doubles {
                guard let i = castToInteger(v.rounded(.toNearestOrEven), x.dtype) else { throw ctx.fail("\(v) does not fit \(x.dtype.onnxName)") }
                ints.append(i)
            }
            return [Tensor(shape: current, ints: ints, dtype: x.dtype)]
        }
        return [Tensor(shape: current, values: y.doubles, dtype: x.dtype)]
    }

    /// Nearest neighbour along one axis: output index j copies input index pick[j], with everything
    /// after the axis moving as one run.
    static func picked(_ t: Tensor, _ shape: [Int], axis: Int, pick: [Int], threads: Int) -> Tensor {
        let (outer, n, inner) = around(shape, axis)
        let out = pick.count, count = outer * out * inner
        func run<T>(_ x: [T]) -> [T] {
            guard count > 0 else { return [] }
            return [T](unsafeUninitializedCapacity: count) { yb, initialized in
                x.withUnsafeBufferPointer { xb in
                pick.withUnsafeBufferPointer { pb in
                    let (xp, yp, pp) = (xb.baseAddress!, yb.baseAddress!, pb.baseAddress!)
                    parallelRanges(outer, threads: threads, grain: Swift.max(1, (1 << 14) / Swift.max(out * inner, 1))) { range in
                        for o in range {
                            let src = xp + o * n * inner, dst = yp + o * out * inner
                            if inner == 1 {
                                for j in 0..<out { (dst + j).initialize(to: src[pp[j]]) }
                            } else {
                                for j in 0..<out { (dst + j * inner).initialize(from: src + pp[j] * inner, count: inner) }
                            }
                        }
                    }
                } }
                initialized = count
            }
        }
        var y = t
        y.shape = shape
        y.shape[axis] = out
        switch t.dtype.storage {
        case .floats: y.floats = run(t.floats)
        case .doubles: y.doubles = run(t.doubles)
        case .ints: y.ints = run(t.ints)
        }
        return y
    }

    struct ResizeTap {
        var indices: [Int]
        var weights: [Double]
        var extrapolate: Bool
    }

    /// The neighbours and weights of each output position along one axis.
    static func resizeTaps(_ a: AttributeView, inSize: Int, outSize: Int, scale: Double, roi: (Double, Double)?, roiIsFloat32: Bool = false,
                           fail: (String) -> any Error) throws -> [ResizeTap] {
        let coordinate = a.string("coordinate_transformation_mode")
        let mode = a.string("mode")
        let antialias = a.int("antialias") != 0
        let cubicA = Double(a.float("cubic_coeff_a"))
        let excludeOutside = a.int("exclude_outside") != 0
        let nearest = a.string("nearest_mode")
        let width = scale * Double(inSize)  // the output width as a real number, as the coordinate formulas use it
        var taps: [ResizeTap] = []
        taps.reserveCapacity(outSize)
        for yo in 0..<outSize {
            let y = Double(yo)
            var x: Double
            var extrapolate = false
            switch coordinate {
            case "align_corners": x = width == 1 ? 0 : y * Double(inSize - 1) / (width - 1)
            case "asymmetric": x = y / scale
            case "tf_half_pixel_for_nn": x = (y + 0.5) / scale  // opset 11 only
            case "pytorch_half_pixel": x = width == 1 ? -0.5 : (y + 0.5) / scale - 0.5
            case "half_pixel_symmetric":
                let adjustment = Double(outSize) / width
                let offset = Double(inSize) / 2 * (1 - adjustment)
                x = offset + (y + 0.5) / scale - 0.5
            case "tf_crop_and_resize":
                guard let (r0, r1) = roi else { throw fail("tf_crop_and_resize needs roi") }
                // A float32 roi's length and start are rounded to float32, as the reference computes them
                // (a sample can sit exactly on a half step in float32 and just past it in double).
                let length = roiIsFloat32 ? Double(Float(r1 - r0)) : r1 - r0
                let start = roiIsFloat32 ? Double(Float(r0) * Float(inSize - 1)) : r0 * Double(inSize - 1)
                x = width == 1 ? length * Double(inSize - 1) / 2 : y * length * Double(inSize - 1) / (width - 1)
                x += start
                extrapolate = x < 0 || x > Double(inSize - 1)
            default: x = (y + 0.5) / scale - 0.5
            }
            let base = x.rounded(.down)
            let integral = x == base
            let ratio = integral ? 1 : x - base
            var w: [Double]
            switch mode {
            case "nearest":
                if integral { w = [0, 1] } else {
                    switch nearest {
                    case "round_prefer_ceil": w = ratio < 0.5 ? [1, 0] : [0, 1]
                    case "floor": w = [1, 0]
                    case "ceil": w = [0, 1]
                    default: w = ratio <= 0.5 ? [1, 0] : [0, 1]
                    }
                }
            case "linear":
                w = antialias ? linearAntialias(ratio, scale) : [1 - ratio, ratio]
            default:
                w = antialias ? cubicAntialias(ratio, scale, cubicA) : cubic(ratio, cubicA)
            }
            let n = w.count
            guard n > 0, n < 1 << 16, x.isFinite, Swift.abs(x) < Double(1 << 40) else { throw fail("resize coordinate \(x) is out of range") }
            let first = Int(base) - n / 2 + (integral ? 0 : 1)
            var idx = (0..<n).map { first + $0 }
            if excludeOutside {
                for k in 0..<n where idx[k] < 0 || idx[k] >= inSize { w[k] = 0 }
                let s = w.reduce(0, +)
                if s != 0 { w = w.map { $0 / s } }
            }
            idx = idx.map { Swift.min(Swift.max($0, 0), inSize - 1) }
            taps.append(ResizeTap(indices: idx, weights: w, extrapolate: extrapolate))
        }
        return taps
    }

    static func cubic(_ r: Double, _ a: Double) -> [Double] {
        [((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
         ((a + 2) * r - (a + 3)) * r * r + 1,
         ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1,
         ((a * ((1 - r) + 1) - 5 * a) * ((1 - r) + 1) + 8 * a) * ((1 - r) + 1) - 4 * a]
    }

    /// Antialiased weights: the kernel stretched by 1 / scale when downscaling, normalised.
    static func linearAntialias(_ r: Double, _ scale: Double) -> [Double] {
        let s = Swift.min(scale, 1)
        let start = Int((-1 / s).rounded(.down)) + 1
        let footprint = 2 - 2 * start
        let w = (0..<footprint).map { Swift.min(Swift.max(1 - Swift.abs((Double(start + $0) - r) * s), 0), 1) }
        let sum = w.reduce(0, +)
        return w.map { $0 / sum }
    }

    static func cubicAntialias(_ r: Double, _ scale: Double, _ a: Double) -> [Double] {
        let s = Swift.min(scale, 1)
        func k(_ v: Double) -> Double {
            let x = Swift.abs(v), x2 = x * x, x3 = x2 * x
            if x <= 1 { return (a + 2) * x3 - (a + 3) * x2 + 1 }
            if x < 2 { return a * x3 - 5 * a * x2 + 8 * a * x - 4 * a }
            return 0
        }
        let start = Int((-2 / s).rounded(.down)) + 1
        let end = 2 - start
        let w = (start..<end).map { k(s * (Double($0) - r)) }
        let sum = w.reduce(0, +)
        return w.map { $0 / sum }
    }

    /// Applies the taps along `axis` in Double.
    static func interpolate(_ x: Tensor, _ shape: [Int], _ axis: Int, _ taps: [ResizeTap], extrapolation: Double,
                            next: [Int]) -> Tensor {
        let (outer, n, inner) = around(shape, axis)
        let v = x.doubles
        let m = taps.count
        var y = [Double](repeating: 0, count: outer * m * inner)
        for o in 0..<outer {
            for (j, t) in taps.enumerated() {
                let dst = (o * m + j) * inner
                if t.extrapolate {
                    for i in 0..<inner { y[dst + i] = extrapolation }
                    continue
                }
                for (idx, w) in zip(t.indices, t.weights) where w != 0 {
                    let src = (o * n + idx) * inner
                    for i in 0..<inner { y[dst + i] += w * v[src + i] }
                }
            }
        }
        return Tensor(shape: next, doubles: y)
    }
}
