/// ConstantOfShape, Range and EyeLike.
extension Kernels {
    static let constantOfShape: Kernel = { ctx in
        let out = try ctx.outputShape()
        let value = ctx.attributes.tensor("value") ?? Tensor(shape: [1], floats: [0])
        return [Tensor.repeating(value, out)]
    }

    /// start + i * delta, computed as numpy's arange computes it (in Double for floats, exactly for integers).
    static let range: Kernel = { ctx in
        let s = try ctx.input(0), d = try ctx.input(2)
        let n = try ctx.outputShape()[0]
        if s.dtype.storage == .ints {
            return [Tensor(shape: [n], ints: (0..<n).map { s.ints[0] &+ Int64($0) &* d.ints[0] }, dtype: s.dtype)]
        }
        let (s0, d0) = (s.doubleValues[0], d.doubleValues[0])
        return [Tensor(shape: [n], values: (0..<n).map { s0 + Double($0) * d0 }, dtype: s.dtype)]
    }

    static let eyeLike: Kernel = { ctx in
        let x = try ctx.input(0)
        let k = ctx.attributes.int("k")
        let (rows, cols) = (x.shape[0], x.shape[1])
        let ones = (0..<(rows * cols)).map { i -> Double in i % cols - i / cols == k ? 1 : 0 }
        let dt = ctx.outputDType()
        if dt.storage == .ints { return [Tensor(shape: x.shape, ints: ones.map { Int64($0) }, dtype: dt)] }
        return [Tensor(shape: x.shape, values: ones, dtype: dt)]
    }
}
