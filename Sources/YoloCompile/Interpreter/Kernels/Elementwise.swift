import CKernels
import Foundation

/// Kernels of the unary elementwise operators (declared in Operators/Elementwise.swift).
extension Kernels {
    /// `f` on float32 (float16 computed in float32, rounded after), `d` on float64.
    static func floatUnary(_ f: @escaping @Sendable (Float) -> Float, _ d: @escaping @Sendable (Double) -> Double) -> Kernel {
        { ctx in
            let x = try ctx.input(0)
            switch x.dtype.storage {
            case .doubles: return [Tensor(shape: x.shape, doubles: parallelMap(x.doubles, threads: ctx.threads, d))]
            default: return [Tensor(shape: x.shape, floats: parallelMap(x.floats, threads: ctx.threads, f), dtype: x.dtype)]
            }
        }
    }

    /// A function of the attributes computed in Double, rounded once to the tensor's type.
    static func floatUnaryDouble(_ make: @escaping @Sendable (AttributeView) -> @Sendable (Double) -> Double) -> Kernel {
        { ctx in
            let f = make(ctx.attributes)
            let x = try ctx.input(0)
            switch x.dtype.storage {
            case .doubles: return [Tensor(shape: x.shape, doubles: parallelMap(x.doubles, threads: ctx.threads, f))]
            default: return [Tensor(shape: x.shape, floats: parallelMap(x.floats, threads: ctx.threads) { Float(f(Double($0))) }, dtype: x.dtype)]
            }
        }
    }

    /// A float function with a vector C kernel (Sources/CKernels/elementwise.c) over float32, and float16
    /// computed in float32 and rounded after; `d` on float64.
    static func floatVectorUnary(_ f: @escaping @Sendable (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
                                 _ d: @escaping @Sendable (Double) -> Double) -> Kernel {
        { ctx in
            let x = try ctx.input(0)
            if x.dtype.storage == .doubles { return [Tensor(shape: x.shape, doubles: parallelMap(x.doubles, threads: ctx.threads, d))] }
            let v = x.floats
            guard !v.isEmpty else { return [x] }
            let y = [Float](unsafeUninitializedCapacity: v.count) { out, n in
                v.withUnsafeBufferPointer { src in
                    let (xp, yp) = (src.baseAddress!, out.baseAddress!)
                    parallelRanges(v.count, threads: ctx.threads) { r in f(xp + r.lowerBound, yp + r.lowerBound, r.count) }
                }
                n = v.count
            }
            return [Tensor(shape: x.shape, floats: y, dtype: x.dtype)]
        }
    }

    static let sigmoid = floatVectorUnary({ yc_sigmoid($0, $1, $2) }, { 1 / (1 + exp(-$0)) })

    /// yc_erf: within 1.4 ulp of erf, and vectorised (libm's erff is not); GELU's output pass uses the same function.
    static let erf = floatVectorUnary({ yc_erf($0, $1, $2) }, { Foundation.erf($0) })

    /// An operator on every numeric type: floats through `f` (Double for float64), integers through `i`
    /// on their stored Int64 (wrapped to the type's width after).
    static func numericUnary(float f: @escaping @Sendable (Float) -> Float, double d: @escaping @Sendable (Double) -> Double,
                             int i: @escaping @Sendable (Int64, DType) -> Int64) -> Kernel {
        { ctx in
            let x = try ctx.input(0)
            switch x.dtype.storage {
            case .floats: return [Tensor(shape: x.shape, floats: parallelMap(x.floats, threads: ctx.threads, f), dtype: x.dtype)]
            case .doubles: return [Tensor(shape: x.shape, doubles: parallelMap(x.doubles, threads: ctx.threads, d))]
            case .ints:
                let dt = x.dtype
                return [Tensor(shape: x.shape, ints: x.ints.map { i($0, dt) }, dtype: dt)]
            }
        }
    }

    /// Floats through yc_relu (vector C; NaN kept, -0 to +0, as the fused output pass computes it).
    static let relu: Kernel = { ctx in
        let x = try ctx.input(0)
        guard x.dtype.storage == .ints else { return try reluFloats(ctx) }
        return [Tensor(shape: x.shape, ints: x.ints.map { Swift.max($0, 0) }, dtype: x.dtype)]
    }
    private static let reluFloats = floatVectorUnary({ yc_relu($0, $1, $2) }, { $0 > 0 ? $0 : ($0.isNaN ? $0 : 0) })
    // |Int.min| wraps to itself, as in two's complement; unsigned values are their own magnitude.
    static let abs = numericUnary(float: { Swift.abs($0) }, double: { Swift.abs($0) },
                                  int: { v, dt in dt == .uint64 ? v : (v == .min ? v : Swift.abs(v)) })
    static let neg = numericUnary(float: { -$0 }, double: { -$0 }, int: { v, _ in 0 &- v })
    static let sign = numericUnary(float: { $0 > 0 ? 1 : $0 < 0 ? -1 : $0 }, double: { $0 > 0 ? 1 : $0 < 0 ? -1 : $0 },
                                   int: { v, dt in dt == .uint64 ? (v == 0 ? 0 : 1) : v.signum() })

    static let shrink: Kernel = { ctx in
        let bias = Double(ctx.attributes.float("bias")), lambd = Double(ctx.attributes.float("lambd"))
        let x = try ctx.input(0)
        func f(_ v: Double) -> Double { v < -lambd ? v + bias : v > lambd ? v - bias : 0 }
        switch x.dtype.storage {
        case .floats: return [Tensor(shape: x.shape, floats: x.floats.map { Float(f(Double($0))) }, dtype: x.dtype)]
        case .doubles: return [Tensor(shape: x.shape, doubles: x.doubles.map(f))]
        case .ints:
            // Integer inputs: the result is computed exactly and must fit the type.
            var out: [Int64] = []
            out.reserveCapacity(x.count)
            for v in x.doubleValues {
                guard let r = castToInteger(f(v), x.dtype) else {
                    throw ctx.fail("Shrink of \(v) with bias \(bias) does not fit \(x.dtype.onnxName)")
                }
                out.append(r)
            }
            return [Tensor(shape: x.shape, ints: out, dtype: x.dtype)]
        }
    }

    static let isNaN: Kernel = { ctx in
        let x = try ctx.input(0)
        return [Tensor(shape: x.shape, ints: x.doubleValues.map { $0.isNaN ? 1 : 0 }, dtype: .bool)]
    }

    static let isInf: Kernel = { ctx in
        let x = try ctx.input(0)
        let neg = ctx.attributes.flag("detect_negative"), pos = ctx.attributes.flag("detect_positive")
        return [Tensor(shape: x.shape, ints: x.doubleValues.map { v in
            v.isInfinite && ((v > 0 && pos) || (v < 0 && neg)) ? 1 : 0
        }, dtype: .bool)]
    }

    /// min(max(x, lo), hi), so that lo > hi gives hi everywhere; NaN stays NaN. An absent bound is the
    /// type's lowest or largest finite value (numeric_limits), as ONNX defines it: infinities are clipped.
    static let clip: Kernel = { ctx in
        let x = try ctx.input(0)
        switch x.dtype.storage {
        case .floats:
            let limit: Float = x.dtype == .float16 ? Float(Float16.greatestFiniteMagnitude) : .greatestFiniteMagnitude
            let lo = ctx.optional(1)?.floats.first ?? -limit, hi = ctx.optional(2)?.floats.first ?? limit
            return [Tensor(shape: x.shape, floats: x.floats.map { v in let y = v < lo ? lo : v; return y > hi ? hi : y }, dtype: x.dtype)]
        case .doubles:
            let lo = ctx.optional(1)?.doubles.first ?? -.greatestFiniteMagnitude, hi = ctx.optional(2)?.doubles.first ?? .greatestFiniteMagnitude
            return [Tensor(shape: x.shape, doubles: x.doubles.map { v in let y = v < lo ? lo : v; return y > hi ? hi : y })]
        case .ints:
            if x.dtype == .uint64 {
                let lo = ctx.optional(1).map { UInt64(bitPattern: $0.ints[0]) } ?? .min
                let hi = ctx.optional(2).map { UInt64(bitPattern: $0.ints[0]) } ?? .max
                return [Tensor(shape: x.shape, ints: x.ints.map { v in
                    let y = Swift.max(UInt64(bitPattern: v), lo)
                    return Int64(bitPattern: Swift.min(y, hi))
                }, dtype: x.dtype)]
            }
            let lo = ctx.optional(1)?.ints.first ?? .min, hi = ctx.optional(2)?.ints.first ?? .max
            return [Tensor(shape: x.shape, ints: x.ints.map { Swift.min(Swift.max($0, lo), hi) }, dtype: x.dtype)]
        }
    }

    /// Inference (or a zero ratio): the data unchanged, and a mask of all true.
    static let dropout: Kernel = { ctx in
        let x = try ctx.input(0)
        if let training = ctx.optional(2) {
            try Operators.dropoutIsDeterministic(training: training, ratio: ctx.optional(1) ?? .scalar(0.5), fail: ctx.fail)
        }
        var out = [x]
        if ctx.outputTypes.count > 1 { out.append(Tensor(shape: x.shape, ints: [Int64](repeating: 1, count: x.count), dtype: .bool)) }
        return out
    }

    static let cast: Kernel = { ctx in
        let x = try ctx.input(0)
        return [try convert(x, to: ctx.outputDType(), ctx)]
    }

    static let castLike: Kernel = { ctx in
        [try convert(try ctx.input(0), to: try ctx.input(1).dtype, ctx)]
    }

    /// Cast's conversions. Float to integer truncates toward zero; where ONNX leaves the result
    /// undefined (NaN, infinities, values the target cannot hold) the kernel refuses, naming the value.
    /// Integer to integer wraps (two's complement), as C++ and numpy convert.
    static func convert(_ x: Tensor, to dt: DType, _ ctx: KernelContext) throws -> Tensor {
        if x.dtype == dt { return x }
        switch dt.storage {
        case .floats:
            if x.dtype == .float64, dt == .float16 {
                // Round double to half once (through float32 could round twice).
                return Tensor(shape: x.shape, floats: x.doubles.map { Float(Float16($0)) }, dtype: dt)
            }
            return Tensor(shape: x.shape, floats: x.floatValues, dtype: dt)
        case .doubles:
            return Tensor(shape: x.shape, doubles: x.doubleValues)
        case .ints:
            if x.dtype.storage == .ints {
                if dt == .bool { return Tensor(shape: x.shape, ints: x.ints.map { $0 != 0 ? 1 : 0 }, dtype: dt) }
                return Tensor(shape: x.shape, ints: x.ints, dtype: dt)
            }
            var out: [Int64] = []
            out.reserveCapacity(x.count)
            for v in x.doubleValues {
                guard let i = castToInteger(v, dt) else {
                    throw ctx.fail("casting \(v) to \(dt.onnxName) is undefined in ONNX (NaN, infinite or out of range)")
                }
                out.append(i)
            }
            return Tensor(shape: x.shape, ints: out, dtype: dt)
        }
    }
}
