import CKernels
import Foundation

/// Kernels of the broadcasting arithmetic, comparison and logic operators (Operators/Arithmetic.swift,
/// Operators/Logical.swift).
extension Kernels {
    static let add = arithmetic(AddOperator.self)
    static let sub = arithmetic(SubOperator.self)
    static let mul = arithmetic(MulOperator.self)
    static let div = arithmetic(DivOperator.self)
    static let max = arithmetic(MaxOperator.self)
    static let min = arithmetic(MinOperator.self)
    static let bitwiseAnd = arithmetic(BitAndOperator.self)
    static let bitwiseOr = arithmetic(BitOrOperator.self)
    static let bitwiseXor = arithmetic(BitXorOperator.self)

    /// `Op` over two broadcast inputs of one type. An integer result ONNX leaves undefined (division
    /// by zero) is refused.
    static func arithmetic<Op: BinaryOperator>(_: Op.Type) -> Kernel {
        { ctx in
            let a = try ctx.input(0), b = try ctx.input(1)
            let out = try ctx.outputShape()
            return [try apply(Op.self, a, b, out, ctx)]
        }
    }

    static func apply<Op: BinaryOperator>(_: Op.Type, _ a: Tensor, _ b: Tensor, _ out: [Int], _ ctx: KernelContext) throws -> Tensor {
        switch a.dtype.storage {
        case .floats:
            if let kernel = Op.floatRuns {
                let y = broadcastRuns(a.floats, a.shape, b.floats, b.shape, out) { pa, sa, pb, sb, y, n in
                    yc_binary_floats(kernel, pa, sa, pb, sb, y, n)
                }
                return Tensor(shape: out, floats: y, dtype: a.dtype)
            }
            return Tensor(shape: out, floats: broadcast(a.floats, a.shape, b.floats, b.shape, out, Op.apply), dtype: a.dtype)
        case .doubles:
            return Tensor(shape: out, doubles: broadcast(a.doubles, a.shape, b.doubles, b.shape, out, Op.apply))
        case .ints:
            var undefined = false
            let y: [Int64]
            if a.dtype == .uint64 {
                y = broadcast(a.ints, a.shape, b.ints, b.shape, out) { x, z in
                    guard let r = Op.apply(UInt64(bitPattern: x), UInt64(bitPattern: z)) else { undefined = true; return 0 }
                    return Int64(bitPattern: r)
                }
            } else {
                y = broadcast(a.ints, a.shape, b.ints, b.shape, out) { x, z in
                    guard let r = Op.apply(x, z) else { undefined = true; return 0 }
                    return r
                }
            }
            if undefined { throw ctx.fail("integer \(ctx.node.op) by zero is undefined") }
            return Tensor(shape: out, ints: y, dtype: a.dtype)
        }
    }

    /// Sum, Mean, Max, Min: the inputs combined left to right by a two-input kernel.
    static func variadic(_ pair: @escaping Kernel, mean: Bool) -> Kernel {
        { ctx in
            let parts = try ctx.inputs.indices.map { try ctx.input($0) }
            var acc = parts[0]
            for p in parts.dropFirst() {
                let shape = ShapeRules.broadcast(acc.shape, p.shape) ?? acc.shape
                let step = KernelContext(node: ctx.node, attributes: ctx.attributes, inputs: [acc, p],
                                         outputTypes: [TensorType(acc.dtype, shape)])
                acc = try pair(step)[0]
            }
            if acc.shape != (try ctx.outputShape()) {
                // A single input smaller than the output cannot happen; broadcasting covers the rest.
                throw ctx.fail("inputs broadcast to \(acc.shape), inferred \(try ctx.outputShape())")
            }
            guard mean else { return [acc] }
            let n = Double(parts.count)
            switch acc.dtype.storage {
            case .doubles: return [Tensor(shape: acc.shape, doubles: acc.doubles.map { $0 / n })]
            default: return [Tensor(shape: acc.shape, floats: acc.floats.map { $0 / Float(n) }, dtype: acc.dtype)]
            }
        }
    }
    static let mean: Kernel = add

    /// X ^ Y, computed as numpy's power then converted to X's type: integers by repeated squaring
    /// (wrapping), anything with a float in Double. A negative integer exponent of an integer base is
    /// refused, as numpy refuses it.
    static let pow: Kernel = { ctx in
        let a = try ctx.input(0), b = try ctx.input(1)
        let out = try ctx.outputShape()
        if a.dtype.storage == .ints && b.dtype.storage == .ints {
            var negative = false
            let y = broadcast(a.ints, a.shape, b.ints, b.shape, out) { x, e -> Int64 in
                if e < 0 { negative = true; return 0 }
                return PowOperator.integerPower(x, e)
            }
            if negative { throw ctx.fail("an integer to a negative integer power is undefined") }
            return [Tensor(shape: out, ints: y, dtype: a.dtype)]
        }
        if a.dtype == .float32 && b.dtype == .float32 {
            return [Tensor(shape: out, floats: broadcast(a.floats, a.shape, b.floats, b.shape, out, PowOperator.apply))]
        }
        let y = broadcast(a.doubleValues, a.shape, b.doubleValues, b.shape, out) { Foundation.pow($0, $1) }
        if a.dtype.storage == .ints {
            var ints: [Int64] = []
            ints.reserveCapacity(y.count)
            for v in y {
                guard let i = castToInteger(v, a.dtype) else { throw ctx.fail("\(v) does not fit \(a.dtype.onnxName)") }
                ints.append(i)
            }
            return [Tensor(shape: out, ints: ints, dtype: a.dtype)]
        }
        return [Tensor(shape: out, values: y, dtype: a.dtype)]
    }

    /// fmod = 1: C's fmod (the result has the dividend's sign); fmod = 0 (integers only): Python's
    /// modulo (the divisor's sign).
    static let mod: Kernel = { ctx in
        let a = try ctx.input(0), b = try ctx.input(1)
        let out = try ctx.outputShape()
        switch a.dtype.storage {
        case .floats: return [Tensor(shape: out, floats: broadcast(a.floats, a.shape, b.floats, b.shape, out) { fmodf($0, $1) }, dtype: a.dtype)]
        case .doubles: return [Tensor(shape: out, doubles: broadcast(a.doubles, a.shape, b.doubles, b.shape, out) { fmod($0, $1) })]
        case .ints:
            if ctx.attributes.int("fmod") == 1 { return [try apply(RemainderOperator.self, a, b, out, ctx)] }
            return [try apply(ModuloOperator.self, a, b, out, ctx)]
        }
    }

    /// x if x >= 0, else slope * x, with the slope broadcast to x (unsigned x is never negative).
    static let prelu: Kernel = { ctx in
        let x = try ctx.input(0), s = try ctx.input(1)
        if !x.dtype.isSigned { return [x] }
        switch x.dtype.storage {
        case .floats: return [Tensor(shape: x.shape, floats: broadcast(x.floats, x.shape, s.floats, s.shape, x.shape) { $0 < 0 ? $0 * $1 : $0 }, dtype: x.dtype)]
        case .doubles: return [Tensor(shape: x.shape, doubles: broadcast(x.doubles, x.shape, s.doubles, s.shape, x.shape) { $0 < 0 ? $0 * $1 : $0 })]
        case .ints: return [Tensor(shape: x.shape, ints: broadcast(x.ints, x.shape, s.ints, s.shape, x.shape) { $0 < 0 ? $0 &* $1 : $0 }, dtype: x.dtype)]
        }
    }

    /// Shifts of unsigned integers; a shift by the type's width or more gives 0.
    static let bitShift: Kernel = { ctx in
        let a = try ctx.input(0), b = try ctx.input(1)
        let out = try ctx.outputShape()
        let left = ctx.attributes.string("direction") == "LEFT"
        let bits = UInt64(a.dtype.byteSize * 8)
        let y = broadcast(a.ints, a.shape, b.ints, b.shape, out) { x, s -> Int64 in
            let v = UInt64(bitPattern: x), n = UInt64(bitPattern: s)
            guard n < bits else { return 0 }
            return Int64(bitPattern: left ? v << n : v >> n)
        }
        return [Tensor(shape: out, ints: y, dtype: a.dtype)]
    }

    static let bitwiseNot: Kernel = { ctx in
        let x = try ctx.input(0)
        return [Tensor(shape: x.shape, ints: x.ints.map { ~$0 }, dtype: x.dtype)]
    }

    // MARK: Comparisons and logic

    static let equal = comparison(float: { $0 == $1 }, double: { $0 == $1 }, int: { $0 == $1 }, uint: { $0 == $1 })
    static let less = comparison(float: { $0 < $1 }, double: { $0 < $1 }, int: { $0 < $1 }, uint: { $0 < $1 })
    static let greater = comparison(float: { $0 > $1 }, double: { $0 > $1 }, int: { $0 > $1 }, uint: { $0 > $1 })
    static let lessOrEqual = comparison(float: { $0 <= $1 }, double: { $0 <= $1 }, int: { $0 <= $1 }, uint: { $0 <= $1 })
    static let greaterOrEqual = comparison(float: { $0 >= $1 }, double: { $0 >= $1 }, int: { $0 >= $1 }, uint: { $0 >= $1 })
    static let and = comparison(float: { _, _ in false }, double: { _, _ in false }, int: { $0 != 0 && $1 != 0 }, uint: { _, _ in false })
    static let or = comparison(float: { _, _ in false }, double: { _, _ in false }, int: { $0 != 0 || $1 != 0 }, uint: { _, _ in false })
    static let xor = comparison(float: { _, _ in false }, double: { _, _ in false }, int: { ($0 != 0) != ($1 != 0) }, uint: { _, _ in false })

    static func comparison(float f: @escaping @Sendable (Float, Float) -> Bool, double d: @escaping @Sendable (Double, Double) -> Bool,
                           int i: @escaping @Sendable (Int64, Int64) -> Bool, uint u: @escaping @Sendable (UInt64, UInt64) -> Bool) -> Kernel {
        { ctx in
            let a = try ctx.input(0), b = try ctx.input(1)
            let out = try ctx.outputShape()
            let y: [Int64]
            switch a.dtype.storage {
            case .floats: y = broadcast(a.floats, a.shape, b.floats, b.shape, out) { f($0, $1) ? 1 : 0 }
            case .doubles: y = broadcast(a.doubles, a.shape, b.doubles, b.shape, out) { d($0, $1) ? 1 : 0 }
            case .ints:
                y = a.dtype == .uint64
                    ? broadcast(a.ints, a.shape, b.ints, b.shape, out) { u(UInt64(bitPattern: $0), UInt64(bitPattern: $1)) ? 1 : 0 }
                    : broadcast(a.ints, a.shape, b.ints, b.shape, out) { i($0, $1) ? 1 : 0 }
            }
            return [Tensor(shape: out, ints: y, dtype: .bool)]
        }
    }

    static let not: Kernel = { ctx in
        let x = try ctx.input(0)
        return [Tensor(shape: x.shape, ints: x.ints.map { $0 == 0 ? 1 : 0 }, dtype: .bool)]
    }

    /// condition ? X : Y, all three broadcast to the output.
    static let `where`: Kernel = { ctx in
        let c = try ctx.input(0), x = try ctx.input(1), y = try ctx.input(2)
        let out = try ctx.outputShape()
        let ci = broadcastIndex(c.shape, out), xi = broadcastIndex(x.shape, out), yi = broadcastIndex(y.shape, out)
        let pick = (0..<ci.count).map { c.ints[ci[$0]] != 0 }
        let xs = x.gathered(xi, shape: out), ys = y.gathered(yi, shape: out)
        var r = xs
        switch x.dtype.storage {
        case .floats: for k in pick.indices where !pick[k] { r.floats[k] = ys.floats[k] }
        case .doubles: for k in pick.indices where !pick[k] { r.doubles[k] = ys.doubles[k] }
        case .ints: for k in pick.indices where !pick[k] { r.ints[k] = ys.ints[k] }
        }
        return [r]
    }
}

/// A binary arithmetic operator, as a type so each kernel's loops are specialised and the arithmetic
/// inlined (a closure per element costs more than the arithmetic). Integer forms return nil where
/// ONNX leaves the result undefined; results wrap as two's complement does.
protocol BinaryOperator: Sendable {
    static func apply(_ a: Float, _ b: Float) -> Float
    static func apply(_ a: Double, _ b: Double) -> Double
    static func apply(_ a: Int64, _ b: Int64) -> Int64?
    static func apply(_ a: UInt64, _ b: UInt64) -> UInt64?
    /// The vectorised C loop computing the same float32 arithmetic over whole runs, where there is one.
    static var floatRuns: yc_binary? { get }
}

extension BinaryOperator {
    static var floatRuns: yc_binary? { nil }
}

enum AddOperator: BinaryOperator {
    static var floatRuns: yc_binary? { YC_ADD }
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a + b }
    @inline(__always) static func apply(_ a: Double, _ b: Double) -> Double { a + b }
    @inline(__always) static func apply(_ a: Int64, _ b: Int64) -> Int64? { a &+ b }
    @inline(__always) static func apply(_ a: UInt64, _ b: UInt64) -> UInt64? { a &+ b }
}

enum SubOperator: BinaryOperator {
    static var floatRuns: yc_binary? { YC_SUB }
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a - b }
    @inline(__always) static func apply(_ a: Double, _ b: Double) -> Double { a - b }
    @inline(__always) static func apply(_ a: Int64, _ b: Int64) -> Int64? { a &- b }
    @inline(__always) static func apply(_ a: UInt64, _ b: UInt64) -> UInt64? { a &- b }
}

enum MulOperator: BinaryOperator {
    static var floatRuns: yc_binary? { YC_MUL }
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a * b }
    @inline(__always) static func apply(_ a: Double, _ b: Double) -> Double { a * b }
    @inline(__always) static func apply(_ a: Int64, _ b: Int64) -> Int64? { a &* b }
    @inline(__always) static func apply(_ a: UInt64, _ b: UInt64) -> UInt64? { a &* b }
}

/// Integer division truncates toward zero (C++); INT64_MIN / -1 wraps to INT64_MIN.
enum DivOperator: BinaryOperator {
    static var floatRuns: yc_binary? { YC_DIV }
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a / b }
    @inline(__always) static func apply(_ a: Double, _ b: Double) -> Double { a / b }
    @inline(__always) static func apply(_ a: Int64, _ b: Int64) -> Int64? {
        guard b != 0 else { return nil }
        return a.dividedReportingOverflow(by: b).partialValue
    }
    @inline(__always) static func apply(_ a: UInt64, _ b: UInt64) -> UInt64? { b == 0 ? nil : a / b }
}

/// The remainder with the dividend's sign (Mod with fmod = 1).
enum RemainderOperator: BinaryOperator {
    static func apply(_ a: Float, _ b: Float) -> Float { fmodf(a, b) }
    static func apply(_ a: Double, _ b: Double) -> Double { fmod(a, b) }
    static func apply(_ a: Int64, _ b: Int64) -> Int64? {
        guard b != 0 else { return nil }
        return a.remainderReportingOverflow(dividingBy: b).partialValue
    }
    static func apply(_ a: UInt64, _ b: UInt64) -> UInt64? { b == 0 ? nil : a % b }
}

/// The remainder with the divisor's sign (Mod with fmod = 0, Python's %).
enum ModuloOperator: BinaryOperator {
    static func apply(_ a: Float, _ b: Float) -> Float { fmodf(a, b) }
    static func apply(_ a: Double, _ b: Double) -> Double { fmod(a, b) }
    static func apply(_ a: Int64, _ b: Int64) -> Int64? {
        guard b != 0 else { return nil }
        let r = a.remainderReportingOverflow(dividingBy: b).partialValue
        return r != 0 && (r < 0) != (b < 0) ? r &+ b : r
    }
    static func apply(_ a: UInt64, _ b: UInt64) -> UInt64? { b == 0 ? nil : a % b }
}

/// numpy's maximum: NaN wins.
enum MaxOperator: BinaryOperator {
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a.isNaN || b.isNaN ? .nan : Swift.max(a, b) }
    @inline(__always) static func apply(_ a: Double, _ b: Double) -> Double { a.isNaN || b.isNaN ? .nan : Swift.max(a, b) }
    @inline(__always) static func apply(_ a: Int64, _ b: Int64) -> Int64? { Swift.max(a, b) }
    @inline(__always) static func apply(_ a: UInt64, _ b: UInt64) -> UInt64? { Swift.max(a, b) }
}

enum MinOperator: BinaryOperator {
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a.isNaN || b.isNaN ? .nan : Swift.min(a, b) }
    @inline(__always) static func apply(_ a: Double, _ b: Double) -> Double { a.isNaN || b.isNaN ? .nan : Swift.min(a, b) }
    @inline(__always) static func apply(_ a: Int64, _ b: Int64) -> Int64? { Swift.min(a, b) }
    @inline(__always) static func apply(_ a: UInt64, _ b: UInt64) -> UInt64? { Swift.min(a, b) }
}

enum BitAndOperator: BinaryOperator {
    static func apply(_ a: Float, _ b: Float) -> Float { .nan }
    static func apply(_ a: Double, _ b: Double) -> Double { .nan }
    static func apply(_ a: Int64, _ b: Int64) -> Int64? { a & b }
    static func apply(_ a: UInt64, _ b: UInt64) -> UInt64? { a & b }
}

enum BitOrOperator: BinaryOperator {
    static func apply(_ a: Float, _ b: Float) -> Float { .nan }
    static func apply(_ a: Double, _ b: Double) -> Double { .nan }
    static func apply(_ a: Int64, _ b: Int64) -> Int64? { a | b }
    static func apply(_ a: UInt64, _ b: UInt64) -> UInt64? { a | b }
}

enum BitXorOperator: BinaryOperator {
    static func apply(_ a: Float, _ b: Float) -> Float { .nan }
    static func apply(_ a: Double, _ b: Double) -> Double { .nan }
    static func apply(_ a: Int64, _ b: Int64) -> Int64? { a ^ b }
    static func apply(_ a: UInt64, _ b: UInt64) -> UInt64? { a ^ b }
}

enum PowOperator {
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { b == 2 ? a * a : powf(a, b) }
    /// Exponentiation by squaring, wrapping as integer tensors do (e >= 0).
    static func integerPower(_ a: Int64, _ e: Int64) -> Int64 {
        var (r, base, n): (Int64, Int64, Int64) = (1, a, e)
        while n > 0 {
            if n & 1 == 1 { r &*= base }
            base &*= base
            n >>= 1
        }
        return r
    }
}

/// numpy-broadcasting elementwise `f(a, b)` into `out` (`broadcastRuns`, one element at a time).
@inline(__always)
func broadcast<A, B, R>(_ a: [A], _ ashape: [Int], _ b: [B], _ bshape: [Int], _ out: [Int],
                        _ f: (A, B) -> R) -> [R]
{
    broadcastRuns(a, ashape, b, bshape, out) { pa, sa, pb, sb, dst, n in
        switch (sa, sb) {
        case (1, 1): for i in 0..<n { (dst + i).initialize(to: f(pa[i], pb[i])) }
        case (1, 0): let v = pb[0]; for i in 0..<n { (dst + i).initialize(to: f(pa[i], v)) }
        case (0, 1): let v = pa[0]; for i in 0..<n { (dst + i).initialize(to: f(v, pb[i])) }
        default: for i in 0..<n { (dst + i).initialize(to: f(pa[0], pb[0])) }
        }
    }
}

/// numpy broadcasting of `a` and `b` into `out`, as runs: `run(a, sa, b, sb, y, n)` fills n outputs
/// from operands that step along the run (stride 1) or hold one value for it (stride 0). Adjacent
/// axes that both operands broadcast alike merge first, so a per-channel operand ([1, C, 1, 1]
/// against [1, C, H, W]) gives runs of H x W and equal shapes one run, which is split across the
/// task's `KernelThreads` (each element is computed alone, so the split changes nothing).
func broadcastRuns<A, B, R>(_ a: [A], _ ashape: [Int], _ b: [B], _ bshape: [Int], _ out: [Int],
                            _ run: (UnsafePointer<A>, Int, UnsafePointer<B>, Int, UnsafeMutablePointer<R>, Int) -> Void) -> [R]
{
    let count = out.reduce(1, *)
    if count == 0 { return [] }
    let rank = out.count
    let pa = [Int](repeating: 1, count: rank - ashape.count) + ashape, pb = [Int](repeating: 1, count: rank - bshape.count) + bshape
    // The merged axes: size, and whether each operand steps along it.
    var dims: [Int] = [], fullA: [Bool] = [], fullB: [Bool] = []
    for d in 0..<rank where out[d] != 1 {
        let (fa, fb) = (pa[d] != 1, pb[d] != 1)
        if let last = dims.indices.last, fullA[last] == fa, fullB[last] == fb {
            dims[last] *= out[d]
        } else {
            dims.append(out[d]); fullA.append(fa); fullB.append(fb)
        }
    }
    if dims.isEmpty { (dims, fullA, fullB) = ([1], [true], [true]) }
    let r = dims.count
    func strides(_ full: [Bool]) -> [Int] {
        var s = [Int](repeating: 0, count: r), step = 1
        for d in stride(from: r - 1, through: 0, by: -1) where full[d] { s[d] = step; step *= dims[d] }
        return s
    }
    let sa = strides(fullA), sb = strides(fullB)
    let inner = dims[r - 1], ia = sa[r - 1], ib = sb[r - 1]
    let rows = count / inner
    let threads = KernelThreads.count
    return [R](unsafeUninitializedCapacity: count) { o, initialized in
        a.withUnsafeBufferPointer { ab in
        b.withUnsafeBufferPointer { bb in
            let (op, ap, bp) = (o.baseAddress!, ab.baseAddress!, bb.baseAddress!)
            if rows == 1 {
                parallelRanges(inner, threads: threads) { range in
                    let lo = range.lowerBound
                    run(ap + lo * ia, ia, bp + lo * ib, ib, op + lo, range.count)
                }
                return
            }
            // Runs split across threads; each range starts from its first run's multi-index.
            parallelRanges(rows, threads: threads, grain: Swift.max(1, (1 << 14) / inner)) { range in
                var index = [Int](repeating: 0, count: r)
                var offA = 0, offB = 0, q = range.lowerBound
                for d in stride(from: r - 2, through: 0, by: -1) {
                    index[d] = q % dims[d]
                    q /= dims[d]
                    offA += index[d] * sa[d]
                    offB += index[d] * sb[d]
                }
                for row in range {
                    run(ap + offA, ia, bp + offB, ib, op + row * inner, inner)
                    var d = r - 2
                    while d >= 0 {
                        index[d] += 1
                        offA += sa[d]
                        offB += sb[d]
                        if index[d] < dims[d] { break }
                        offA -= sa[d] * dims[d]
                        offB -= sb[d] * dims[d]
                        index[d] = 0
                        d -= 1
                    }
                }
            }
        } }
        initialized = count
    }
}

/// For each element of `out`, the flat index of the element of a tensor of `shape` that broadcasts to it.
func broadcastIndex(_ shape: [Int], _ out: [Int]) -> [Int] {
    let positions = [Int](0..<shape.reduce(1, *))
    return broadcast(positions, shape, [0], [], out) { p, _ in p }
}
