import CBLAS

/// MatMul with numpy broadcasting of the batch axes: one sgemm per output matrix.
func registerMatMul(_ t: inout [String: Kernel]) {
    t["MatMul"] = { ctx in
        let a = try ctx.input(0), b = try ctx.input(1)
        let out = ctx.outputTypes[0].shape
        let (m, k, n) = (a.shape[a.shape.count - 2], a.shape[a.shape.count - 1], b.shape[b.shape.count - 1])
        let batch = Array(out.dropLast(2))
        let count = batch.reduce(1, *)
        // Offsets of each batch entry in a and b, with size-1 axes broadcast.
        func offsets(_ shape: [Int], _ matrix: Int) -> [Int] {
            let lead = [Int](repeating: 1, count: batch.count - (shape.count - 2)) + shape.dropLast(2)
            var strides = [Int](repeating: 0, count: batch.count)
            var s = matrix
            for d in stride(from: batch.count - 1, through: 0, by: -1) {
                strides[d] = lead[d] == 1 ? 0 : s
                s *= lead[d]
            }
            return (0..<count).map { i in
                var r = i, off = 0
                for d in stride(from: batch.count - 1, through: 0, by: -1) {
                    off += (r % batch[d]) * strides[d]
                    r /= batch[d]
                }
                return off
            }
        }
        let ao = offsets(a.shape, m * k), bo = offsets(b.shape, k * n)
        var y = [Float](repeating: 0, count: count * m * n)
        a.floats.withUnsafeBufferPointer { ap in
        b.floats.withUnsafeBufferPointer { bp in
        y.withUnsafeMutableBufferPointer { yp in
            for i in 0..<count {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1,
                            ap.baseAddress! + ao[i], Int32(k), bp.baseAddress! + bo[i], Int32(n), 0,
                            yp.baseAddress! + i * m * n, Int32(n))
            }
        } } }
        return [Tensor(shape: out, floats: y)]
    }
}

/// Gemm (nn.Linear on a 2-D input as PyTorch exports it): one sgemm, then beta * C broadcast.
func registerGemm(_ t: inout [String: Kernel]) {
    t["Gemm"] = { ctx in
        let a = try ctx.input(0), b = try ctx.input(1)
        let out = ctx.outputTypes[0].shape
        let (m, n) = (out[0], out[1])
        let ta = ctx.node.int("transA", default: 0) != 0, tb = ctx.node.int("transB", default: 0) != 0
        let k = ta ? a.shape[0] : a.shape[1]
        let alpha = ctx.node.float("alpha", default: 1), beta = ctx.node.float("beta", default: 1)
        var y = [Float](repeating: 0, count: m * n)
        if let c = ctx.optional(2), beta != 0 {
            let cs = [Int](repeating: 1, count: 2 - c.shape.count) + c.shape
            let cv = c.floats
            for i in 0..<m { for j in 0..<n { y[i * n + j] = beta * cv[(cs[0] == 1 ? 0 : i) * cs[1] + (cs[1] == 1 ? 0 : j)] } }
        }
        guard k > 0, m > 0, n > 0 else { return [Tensor(shape: out, floats: y)] }  // BLAS rejects zero leading dimensions
        a.floats.withUnsafeBufferPointer { ap in
        b.floats.withUnsafeBufferPointer { bp in
        y.withUnsafeMutableBufferPointer { yp in
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), alpha, ap.baseAddress!, Int32(a.shape[1]),
                        bp.baseAddress!, Int32(b.shape[1]), 1, yp.baseAddress!, Int32(n))
        } } }
        return [Tensor(shape: out, floats: y)]
    }
}
