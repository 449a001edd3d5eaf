import CKernels
import Foundation

/// Reductions (Reduce*), the softmax family and CumSum. Float reductions accumulate in Double.
extension Kernels {
    static func reduce(_ name: String) -> Kernel {
        { ctx in
            let x = try ctx.input(0)
            let axes = try Operators.reduceAxes(ctx.attributes, axes: ctx.optional(1), rank: x.shape.count, fail: ctx.fail)
            let out = try ctx.outputShape()
            let kept = x.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
            let slots = kept.reduce(1, *)
            let count = x.shape.enumerated().filter { axes.contains($0.offset) }.map(\.element).reduce(1, *)
            if x.dtype.storage == .ints, name != "ReduceMean" {
                return [Tensor(shape: out, ints: try reduceIntegers(name, x, kept, slots, ctx), dtype: x.dtype)]
            }
            if x.dtype.storage == .ints, name == "ReduceMean" {
                // ReduceMean of integers: the exact mean truncated toward zero (summed in 128 bits, so
                // 64-bit values keep every digit).
                guard count > 0 else { throw ctx.fail("the mean of no elements is undefined for integers") }
                var sums = [Int128](repeating: 0, count: slots)
                let index = reductionIndex(x.shape, kept)
                let unsigned = x.dtype == .uint64
                for (i, e) in x.ints.enumerated() { sums[index[i]] += unsigned ? Int128(UInt64(bitPattern: e)) : Int128(e) }
                return [Tensor(shape: out, ints: sums.map { Int64(truncatingIfNeeded: $0 / Int128(count)) }, dtype: x.dtype)]
            }
            var r: [Double]
            // float32 and float16 are read in place; every sum is kept in Double.
            func fold(_ initial: Double, _ f: (Double, Double) -> Double) -> [Double] {
                switch x.dtype.storage {
                case .floats: return accumulate(x.floats, x.shape, kept, initial: initial) { f($0, Double($1)) }
                case .doubles: return accumulate(x.doubles, x.shape, kept, initial: initial, f)
                case .ints: return accumulate(x.doubleValues, x.shape, kept, initial: initial, f)
                }
            }
            switch name {
            case "ReduceMax": r = fold(-.infinity) { a, e in a.isNaN || e.isNaN ? .nan : Swift.max(a, e) }
            case "ReduceMin": r = fold(.infinity) { a, e in a.isNaN || e.isNaN ? .nan : Swift.min(a, e) }
            case "ReduceSum": r = fold(0) { $0 + $1 }
            case "ReduceProd": r = fold(1) { $0 * $1 }
            case "ReduceMean": r = fold(0) { $0 + $1 }.map { $0 / Double(count) }
            case "ReduceSumSquare": r = fold(0) { $0 + $1 * $1 }
            case "ReduceL1": r = fold(0) { $0 + Swift.abs($1) }
            case "ReduceL2": r = fold(0) { $0 + $1 * $1 }.map { $0.squareRoot() }
            case "ReduceLogSum": r = fold(0) { $0 + $1 }.map { log($0) }
            case "ReduceLogSumExp":
                // Shifted by the maximum so that large inputs do not overflow.
                let v = x.doubleValues
                let m = accumulate(v, x.shape, kept, initial: -.infinity) { Swift.max($0, $1) }
                let index = reductionIndex(x.shape, kept)
                var s = [Double](repeating: 0, count: slots)
                for (i, e) in v.enumerated() { let mx = m[index[i]]; s[index[i]] += mx.isFinite ? exp(e - mx) : (e == mx ? 1 : 0) }
                r = (0..<slots).map { m[$0].isFinite ? m[$0] + log(s[$0]) : (s[$0] > 0 ? m[$0] : -.infinity) }
            default: throw ctx.fail("no reduction named \(name)")
            }
            return [Tensor(shape: out, values: r, dtype: x.dtype)]
        }
    }

    /// `combine` over every element into its reduced slot, walking the input once in order with an
    /// odometer over the axes (the slot's offset moves by 0 along a reduced axis).
    @inline(__always)
    static func accumulate<T>(_ v: [T], _ shape: [Int], _ kept: [Int], initial: Double, _ combine: (Double, T) -> Double) -> [Double] {
        var acc = [Double](repeating: initial, count: kept.reduce(1, *))
        let rank = shape.count
        guard !v.isEmpty else { return acc }
        guard rank > 0 else { acc[0] = combine(acc[0], v[0]); return acc }
        let strides = contiguousStrides(kept).enumerated().map { kept[$0.offset] == 1 ? 0 : $0.element }
        let inner = shape[rank - 1], step = strides[rank - 1]
        var index = [Int](repeating: 0, count: rank)
        var o = 0, i = 0
        v.withUnsafeBufferPointer { vp in
            acc.withUnsafeMutableBufferPointer { ap in
                while i < vp.count {
                    var p = o
                    for _ in 0..<inner { ap[p] = combine(ap[p], vp[i]); i += 1; p += step }
                    var d = rank - 2
                    while d >= 0 {
                        index[d] += 1
                        o += strides[d]
                        if index[d] < shape[d] { break }
                        o -= strides[d] * shape[d]
                        index[d] = 0
                        d -= 1
                    }
                    if d < 0 { break }
                }
            }
        }
        return acc
    }

    /// Integer reductions wrap as the type does; Max and Min of uint64 compare unsigned.
    static func reduceIntegers(_ name: String, _ x: Tensor, _ kept: [Int], _ slots: Int, _ ctx: KernelContext) throws -> [Int64] {
        let index = reductionIndex(x.shape, kept)
        let unsigned = x.dtype == .uint64
        func fold(_ initial: Int64, _ f: (Int64, Int64) -> Int64) -> [Int64] {
            var acc = [Int64](repeating: initial, count: slots)
            for (i, e) in x.ints.enumerated() { acc[index[i]] = f(acc[index[i]], e) }
            return acc
        }
        switch name {
        case "ReduceMax":
            if unsigned { return fold(0) { Int64(bitPattern: Swift.max(UInt64(bitPattern: $0), UInt64(bitPattern: $1))) } }
            return fold(x.dtype == .bool ? 0 : typeMin(x.dtype)) { Swift.max($0, $1) }
        case "ReduceMin":
            if unsigned { return fold(-1) { Int64(bitPattern: Swift.min(UInt64(bitPattern: $0), UInt64(bitPattern: $1))) } }
            return fold(x.dtype == .bool ? 1 : typeMax(x.dtype)) { Swift.min($0, $1) }
        case "ReduceSum": return fold(0) { $0 &+ $1 }
        case "ReduceProd": return fold(1) { $0 &* $1 }
        case "ReduceSumSquare": return fold(0) { $0 &+ $1 &* $1 }
        case "ReduceL1": return fold(0) { $0 &+ (unsigned || $1 >= 0 ? $1 : 0 &- $1) }
        default: throw ctx.fail("\(name) of \(x.dtype.onnxName) is not supported")
        }
    }

    static func typeMin(_ d: DType) -> Int64 {
        switch d {
        case .int8: return Int64(Int8.min)
        case .int16: return Int64(Int16.min)
        case .int32: return Int64(Int32.min)
        case .int64: return .min
        default: return 0
        }
    }

    static func typeMax(_ d: DType) -> Int64 {
        switch d {
        case .int8: return Int64(Int8.max)
        case .int16: return Int64(Int16.max)
        case .int32: return Int64(Int32.max)
        case .uint8: return Int64(UInt8.max)
        case .uint16: return Int64(UInt16.max)
        case .uint32: return Int64(UInt32.max)
        default: return .max
        }
    }

    /// (outer, n, inner) of a tensor split around `axis`.
    static func around(_ shape: [Int], _ axis: Int) -> (outer: Int, n: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    static func normalizedAxis(_ ctx: KernelContext, _ rank: Int) -> Int {
        let a = ctx.attributes.int("axis")
        return a < 0 ? a + rank : a
    }

    static let softmax: Kernel = { ctx in
        // Over its input where the interpreter hands it over (`reusesInput`): an attention matrix is
        // then never held twice.
        var x = try ctx.takeInput(0)
        let axis = normalizedAxis(ctx, x.shape.count)
        let (outer, n, inner) = around(x.shape, axis)
        guard n > 0 else { return [x] }
        if x.dtype == .float32 && inner == 1 {
            // Rows split across threads, normalised in place.
            x.floats.withUnsafeMutableBufferPointer { yb in
                let yp = yb.baseAddress!
                parallelRanges(outer, threads: ctx.threads, grain: Swift.max(1, (1 << 13) / n)) { rows in
                    yc_softmax_rows(yp + rows.lowerBound * n, rows.count, n)
                }
            }
            return [x]
        }
        return [alongAxis(x, outer, n, inner) { line in
            let m = line.max() ?? 0
            let e = line.map { exp($0 - m) }
            let s = e.reduce(0, +)
            return e.map { $0 / s }
        }]
    }

    static let logSoftmax: Kernel = { ctx in
        let x = try ctx.input(0)
        let (outer, n, inner) = around(x.shape, normalizedAxis(ctx, x.shape.count))
        guard n > 0 else { return [x] }
        return [alongAxis(x, outer, n, inner) { line in
            let m = line.max() ?? 0
            let l = log(line.reduce(0) { $0 + exp($1 - m) })
            return line.map { $0 - m - l }
        }]
    }

    /// 1 at the first maximum along the axis (a NaN counts as the maximum, as numpy's argmax counts it),
    /// 0 elsewhere.
    static let hardmax: Kernel = { ctx in
        let x = try ctx.input(0)
        let (outer, n, inner) = around(x.shape, normalizedAxis(ctx, x.shape.count))
        guard n > 0 else { return [x] }
        return [alongAxis(x, outer, n, inner) { line in
            var best = 0
            for j in line.indices where !line[best].isNaN && (line[j].isNaN || line[j] > line[best]) { best = j }
            return line.indices.map { $0 == best ? 1 : 0 }
        }]
    }

    /// Applies `f` to every line along the axis, in Double.
    static func alongAxis(_ x: Tensor, _ outer: Int, _ n: Int, _ inner: Int, _ f: ([Double]) -> [Double]) -> Tensor {
        var v = x.doubleValues
        var line = [Double](repeating: 0, count: n)
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * n * inner + i
                for j in 0..<n { line[j] = v[base + j * inner] }
                let r = f(line)
                for j in 0..<n { v[base + j * inner] = r[j] }
            }
        }
        return Tensor(shape: x.shape, values: v, dtype: x.dtype)
    }

    static let cumSum: Kernel = { ctx in
        let x = try ctx.input(0)
        guard let a = try ctx.input(1).intValues.first else { throw ctx.fail("input 1 ('axis') is empty") }
        let rank = x.shape.count
        let axis = a < 0 ? a + rank : a
        guard axis >= 0 && axis < rank else { throw ctx.fail("axis \(a) is out of range for rank \(rank)") }
        let exclusive = ctx.attributes.int("exclusive") != 0, reverse = ctx.attributes.int("reverse") != 0
        let (outer, n, inner) = around(x.shape, axis)
        func scan<T>(_ v: [T], _ zero: T, _ add: (T, T) -> T) -> [T] {
            var y = v
            for o in 0..<outer {
                for i in 0..<inner {
                    var acc = zero
                    for step in 0..<n {
                        let j = reverse ? n - 1 - step : step
                        let at = o * n * inner + j * inner + i
                        if exclusive { y[at] = acc; acc = add(acc, v[at]) } else { acc = add(acc, v[at]); y[at] = acc }
                    }
                }
            }
            return y
        }
        switch x.dtype.storage {
        case .ints: return [Tensor(shape: x.shape, ints: scan(x.ints, 0) { $0 &+ $1 }, dtype: x.dtype)]
        default: return [Tensor(shape: x.shape, values: scan(x.doubleValues, 0.0) { $0 + $1 }, dtype: x.dtype)]
        }
    }
}
