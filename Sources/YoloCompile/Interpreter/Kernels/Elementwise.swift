import CKernels
import Foundation

/// Unary activations and broadcasting binary arithmetic.
func registerElementwise(_ t: inout [String: Kernel]) {
    func unary(_ f: @escaping @Sendable (Float) -> Float) -> Kernel {
        { ctx in
            let x = try ctx.input(0)
            return [Tensor(shape: x.shape, floats: x.floatValues.map(f))]
        }
    }
    t["Sigmoid"] = { ctx in
        let x = try ctx.input(0)
        let v = x.floatValues
        let y = [Float](unsafeUninitializedCapacity: v.count) { out, n in
            v.withUnsafeBufferPointer { yc_sigmoid($0.baseAddress, out.baseAddress, v.count) }
            n = v.count
        }
        return [Tensor(shape: x.shape, floats: y)]
    }
    t["Relu"] = unary { max($0, 0) }
    t["Tanh"] = unary { tanhf($0) }
    t["Exp"] = unary { expf($0) }
    t["Sqrt"] = unary { sqrtf($0) }
    t["Neg"] = unary { -$0 }
    t["Abs"] = unary { abs($0) }
    t["Reciprocal"] = unary { 1 / $0 }
    t["Erf"] = unary { erff($0) }
    t["Gelu"] = { ctx in
        let x = try ctx.input(0)
        switch ctx.node.string("approximate", default: "none") {
        case "none": return [Tensor(shape: x.shape, floats: x.floats.map { 0.5 * $0 * (1 + erff($0 * 0.70710678)) })]
        case "tanh":
            return [Tensor(shape: x.shape, floats: x.floats.map { 0.5 * $0 * (1 + tanhf(0.7978845608 * ($0 + 0.044715 * $0 * $0 * $0))) })]
        case let a: throw ctx.fail("Gelu approximate '\(a)' is not supported (none or tanh)")
        }
    }
    t["Softplus"] = unary { logf(1 + expf($0)) }
    t["HardSwish"] = unary { $0 * min(max($0 / 6 + 0.5, 0), 1) }
    t["LeakyRelu"] = { ctx in
        let a = ctx.node.float("alpha", default: 0.01)
        let x = try ctx.input(0)
        return [Tensor(shape: x.shape, floats: x.floats.map { $0 >= 0 ? $0 : $0 * a })]
    }
    t["HardSigmoid"] = { ctx in
        let a = ctx.node.float("alpha", default: 0.2), b = ctx.node.float("beta", default: 0.5)
        let x = try ctx.input(0)
        return [Tensor(shape: x.shape, floats: x.floats.map { min(max(a * $0 + b, 0), 1) })]
    }
    t["Clip"] = { ctx in
        let x = try ctx.input(0)
        let lo = ctx.optional(1)?.floatValues.first ?? -Float.infinity
        let hi = ctx.optional(2)?.floatValues.first ?? Float.infinity
        return [Tensor(shape: x.shape, floats: x.floats.map { min(max($0, lo), hi) })]
    }
    t["Identity"] = { ctx in [try ctx.input(0)] }

    func binary<Op: BinaryOperator>(_: Op.Type) -> Kernel {
        { ctx in
            let a = try ctx.input(0), b = try ctx.input(1)
            let out = ctx.outputTypes[0].shape
            if a.isFloat || b.isFloat {
                return [Tensor(shape: out, floats: broadcast(a.floatValues, a.shape, b.floatValues, b.shape, out, Op.apply))]
            }
            return [Tensor(shape: out, ints: broadcast(a.ints, a.shape, b.ints, b.shape, out, Op.apply), dtype: a.dtype)]
        }
    }
    t["Add"] = binary(AddOperator.self)
    t["Sub"] = binary(SubOperator.self)
    t["Mul"] = binary(MulOperator.self)
    t["Div"] = binary(DivOperator.self)
    t["Pow"] = binary(PowOperator.self)
}

/// A binary arithmetic operator, as a type so each kernel's loops are specialised and the
/// arithmetic inlined (a closure per element costs more than the arithmetic).
protocol BinaryOperator: Sendable {
    static func apply(_ a: Float, _ b: Float) -> Float
    static func apply(_ a: Int64, _ b: Int64) -> Int64
}

enum AddOperator: BinaryOperator {
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a + b }
    @inline(__always) static func apply(_ a: Int64, _ b: Int64) -> Int64 { a &+ b }
}

enum SubOperator: BinaryOperator {
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a - b }
    @inline(__always) static func apply(_ a: Int64, _ b: Int64) -> Int64 { a &- b }
}

enum MulOperator: BinaryOperator {
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a * b }
    @inline(__always) static func apply(_ a: Int64, _ b: Int64) -> Int64 { a &* b }
}

enum DivOperator: BinaryOperator {
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a / b }
    @inline(__always) static func apply(_ a: Int64, _ b: Int64) -> Int64 { b == 0 ? 0 : a / b }
}

enum PowOperator: BinaryOperator {
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { b == 2 ? a * a : powf(a, b) }
    /// Exponentiation by squaring (wrapping, as integer tensors do); negative exponents give 0.
    static func apply(_ a: Int64, _ b: Int64) -> Int64 {
        var (r, base, n): (Int64, Int64, Int64) = (1, a, max(b, 0))
        while n > 0 {
            if n & 1 == 1 { r &*= base }
            base &*= base
            n >>= 1
        }
        return r
    }
}

/// numpy-broadcasting elementwise `f(a, b)` into `out`. Equal shapes and scalar operands take a
/// straight loop; otherwise the innermost dimension runs with per-operand strides (0 when broadcast).
@inline(__always)
func broadcast<T>(_ a: [T], _ ashape: [Int], _ b: [T], _ bshape: [Int], _ out: [Int],
                  _ f: (T, T) -> T) -> [T]
{
    let count = out.reduce(1, *)
    if ashape == bshape || (a.count == count && b.count == count) {
        return [T](unsafeUninitializedCapacity: count) { o, n in
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in
                for i in 0..<count { o[i] = f(ap[i], bp[i]) }
            } }
            n = count
        }
    }
    if b.count == 1, a.count == count {
        let s = b[0]
        return [T](unsafeUninitializedCapacity: count) { o, n in
            a.withUnsafeBufferPointer { ap in for i in 0..<count { o[i] = f(ap[i], s) } }
            n = count
        }
    }
    if a.count == 1, b.count == count { let s = a[0]; return b.map { f(s, $0) } }
    let rank = out.count
    func strides(_ shape: [Int]) -> [Int] {
        let padded = [Int](repeating: 1, count: rank - shape.count) + shape
        let c = contiguousStrides(padded)
        return (0..<rank).map { padded[$0] == 1 ? 0 : c[$0] }
    }
    let sa = strides(ashape), sb = strides(bshape)
    var result = [T]()
    result.reserveCapacity(count)
    if count == 0 { return result }
    let inner = out[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1]
    var index = [Int](repeating: 0, count: rank)
    var offA = 0, offB = 0
    a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
            while true {
                var pa = offA, pb = offB
                for _ in 0..<inner {
                    result.append(f(ap[pa], bp[pb]))
                    pa += ia
                    pb += ib
                }
                // Advance the outer index (all but the last dimension).
                var d = rank - 2
                while d >= 0 {
                    index[d] += 1
                    offA += sa[d]
                    offB += sb[d]
                    if index[d] < out[d] { break }
                    offA -= sa[d] * out[d]
                    offB -= sb[d] * out[d]
                    index[d] = 0
                    d -= 1
                }
                if d < 0 { break }
            }
        }
    }
    return result
}
