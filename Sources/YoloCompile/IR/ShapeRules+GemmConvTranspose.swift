// Shape rules of nn.Linear on a 2-D input (Gemm, as PyTorch exports it) and of nn.ConvTranspose2d
// (ConvTranspose), which the YOLOv5 modules and MobileNetV3's squeeze-excite bring.

extension ShapeRules {
    static func registerGemmConvTransposeRules(_ r: inout [String: ShapeRule]) {
        r["Gemm"] = gemmRule
        r["ConvTranspose"] = convTransposeRule
    }

    static let gemmConvTransposeFloatInputs: [String: [Int]] = ["Gemm": [0, 1, 2], "ConvTranspose": [0, 1, 2]]

    /// Y = alpha * A' * B' + beta * C, A' and B' transposed by `transA` / `transB`; C broadcasts to Y.
    static func gemmRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let a = try ctx.type(0), b = try ctx.type(1)
        guard a.rank == 2, b.rank == 2 else { throw ctx.fail("expected 2-D A and B, got \(a) and \(b)") }
        let ta = ctx.node.int("transA", default: 0) != 0, tb = ctx.node.int("transB", default: 0) != 0
        let (m, k) = ta ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (k2, n) = tb ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        guard k == k2 else { throw ctx.fail("cannot multiply \(a) by \(b) (transA \(ta ? 1 : 0), transB \(tb ? 1 : 0)): inner sizes \(k) and \(k2) differ") }
        if ctx.inputTypes.count > 2, let c = ctx.inputTypes[2] {
            guard c.rank <= 2, broadcast([m, n], c.shape) == [m, n] else { throw ctx.fail("C \(c) does not broadcast to [\(m), \(n)]") }
        }
        return [TensorType(a.dtype, [m, n])]
    }

    /// out = stride * (in - 1) + output_padding + dilation * (k - 1) + 1 - pad_begin - pad_end.
    /// The weight is (C_in, C_out / group, kh, kw).
    static func convTransposeRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0), w = try ctx.type(1)
        guard x.rank == 4, w.rank == 4 else { throw ctx.fail("expected 4-D input and weight, got \(x) and \(w)") }
        let g = ctx.node.int("group", default: 1)
        guard g >= 1, g <= max(x.shape[1], 1), w.shape[0] == x.shape[1], x.shape[1] % g == 0,
              w.shape[1...].allSatisfy({ $0 >= 1 }) else {
            throw ctx.fail("input has \(x.shape[1]) channels but weight \(w) with group \(g) expects \(w.shape[0]) and non-empty kernels")
        }
        let (m, overflow) = w.shape[1].multipliedReportingOverflow(by: g)
        guard !overflow, m <= maxElements else { throw ctx.fail("weight \(w) with group \(g) has too many output channels") }
        if ctx.inputTypes.count > 2, let b = ctx.inputTypes[2], b.shape != [m] {
            throw ctx.fail("bias \(b) does not match \(m) output channels")
        }
        guard ctx.node.attributes["output_shape"] == nil else { throw ctx.fail("output_shape is not supported; give pads and output_padding") }
        var (k, s, p, d) = try spatial(ctx, rank: 4)
        if k.isEmpty { k = Array(w.shape[2...]) }
        guard k == Array(w.shape[2...]) else { throw ctx.fail("kernel_shape \(k) does not match weight \(w)") }
        let op = ctx.node.ints("output_padding") ?? [0, 0]
        guard op.count == 2, (0..<2).allSatisfy({ op[$0] >= 0 && (op[$0] < s[$0] || op[$0] < d[$0]) }) else {
            throw ctx.fail("output_padding \(op) must hold 2 values each below its stride or dilation")
        }
        var out = [x.shape[0], m]
        for i in 0..<2 {
            let size = s[i] * (x.shape[2 + i] - 1) + op[i] + d[i] * (k[i] - 1) + 1 - p[i] - p[i + 2]
            guard size >= 1 else { throw ctx.fail("pads \(p) leave no output for the \(x.shape[2])x\(x.shape[3]) input") }
            out.append(size)
        }
        guard elementCount(out).map({ $0 <= maxElements }) ?? false else { throw ctx.fail("output \(out) is too large") }
        return [TensorType(x.dtype, out)]
    }
}
