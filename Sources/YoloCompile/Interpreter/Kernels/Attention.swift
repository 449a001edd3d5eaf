import CKernels

/// MatMul -> Softmax (last axis) -> MatMul as one kernel (`OutputPassFusion`): for each batch entry
/// and block of query rows, the block's scores (q x k), their softmax and the product with v, while
/// the block is in cache. The scores of a MobileViT layer at 576 (8 heads x 4 patches x 1296 x 1296
/// floats, 215 MB) then never exist whole. The softmax is the unfused kernel's; the products are
/// OpenBLAS's on a block of rows, which may sum in another order than on the whole matrix (within 1e-6
/// of the output's scale, `FastKernelTests`).
extension Kernels {
    static let attention: Kernel = { ctx in
        try ctx.requireBLAS()
        let q = try ctx.input(0), k = try ctx.input(1), v = try ctx.input(2)
        let out = try ctx.outputShape()
        let (m, d) = (q.shape[q.shape.count - 2], q.shape[q.shape.count - 1])
        let n = k.shape[k.shape.count - 1], e = v.shape[v.shape.count - 1]
        let batch = Array(out.dropLast(2))
        let count = batch.reduce(1, *)
        let qo = matrixOffsets(q.shape, batch, m * d), ko = matrixOffsets(k.shape, batch, d * n), vo = matrixOffsets(v.shape, batch, n * e)
        guard count * m * e > 0 else { return [Tensor(shape: out, floats: [], dtype: q.dtype)] }
        // Blocks of query rows whose scores take about 1 MiB: in a core's L2, and enough rows that
        // OpenBLAS's packing of k and v is paid over many.
        let rows = Swift.max(1, Swift.min(m, (1 << 18) / Swift.max(n, 1)))
        let blocks = (m + rows - 1) / rows
        let tasks = count * blocks
        let workers = parallelWorkers(tasks, threads: ctx.threads)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, workers * rows * n))
        defer { scratch.deallocate() }
        let y = [Float](unsafeUninitializedCapacity: count * m * e) { yb, initialized in
            q.floats.withUnsafeBufferPointer { qb in
            k.floats.withUnsafeBufferPointer { kb in
            v.floats.withUnsafeBufferPointer { vb in
                let (qp, kp, vp, yp) = (qb.baseAddress!, kb.baseAddress!, vb.baseAddress!, yb.baseAddress!)
                parallelTasks(tasks, threads: ctx.threads) { worker, t in
                    let (i, r0) = (t / blocks, (t % blocks) * rows)
                    let r = Swift.min(rows, m - r0)
                    let s = scratch + worker * rows * n
                    if n > 0 && d > 0 {
                        yc_sgemm(0, 0, Int32(r), Int32(n), Int32(d), 1, qp + qo[i] + r0 * d, Int32(d), kp + ko[i], Int32(n), 0, s, Int32(n))
                    } else {
                        s.update(repeating: 0, count: r * n)
                    }
                    if n > 0 { yc_softmax_rows(s, r, n) }
                    let dst = yp + i * m * e + r0 * e
                    if n > 0 {
                        yc_sgemm(0, 0, Int32(r), Int32(e), Int32(n), 1, s, Int32(n), vp + vo[i], Int32(e), 0, dst, Int32(e))
                    } else {
                        dst.update(repeating: 0, count: r * e)
                    }
                }
            } } }
            initialized = count * m * e
        }
        return [Tensor(shape: out, floats: y, dtype: q.dtype)]
    }
}
