// Conv and ConvTranspose over 1, 2 or 3 spatial dimensions, with explicit pads or auto_pad.

extension Operators {
    static let windowAttributes: [AttributeSpec] = [
        .string("auto_pad", "NOTSET", allowed: ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]),
        .ints("dilations"), .ints("kernel_shape"), .ints("pads"), .ints("strides"),
    ]

    static let convolution: [OperatorSchema] = [
        with(OperatorSchema("Conv", versions: [1, 11], attributes: windowAttributes + [.int("group", 1)],
                            inputs: [.input("X", "T"), .input("W", "T"), .input("B", "T", .optional)], outputs: [.output("Y", "T")],
                            types: ["T": .floats], infer: convRule, kernel: Kernels.conv)) {
            $0.flops = { q in
                // thop: output elements x in_channels / groups x kernel taps, 2 per multiply-add.
                guard let w = q.inputTypes[1]?.staticShape else { return 0 }
                return 2 * Double(q.outputTypes[0].count) * Double(w.dropFirst().reduce(1, *))
            }
            $0.multiplyAdds = { inputs, outputs, _ in
                Double(outputs[0].count) * Double(inputs.count > 1 ? inputs[1].shape.dropFirst().reduce(1, *) : 1)
            }
            // im2col: (channels / group x taps) float columns of the output plane (none for a depthwise
            // conv), and, outside the 2-D float path, a tap map of Ints; or the direct kernel's padded
            // input phases (Kernels.directConv2d); or Winograd's (Kernels.winogradConv2d). The largest,
            // in 8-byte units.
            $0.scratchElements = { inputs, outputs, a in
                guard inputs.count > 1, let x = inputs[0].staticShape, let w = inputs[1].staticShape, let y = outputs[0].staticShape
                else { return 0 }
                let plane = Double(y.dropFirst(2).reduce(1, *)), taps = Double(w.dropFirst(2).reduce(1, *))
                let columns = w[1] == 1 ? 0 : plane * taps * Double(w[1]) / 2
                let im2col = columns + (y.count == 4 && inputs[0].dtype == .float32 ? 0 : plane * taps)
                guard let win = try? SpatialWindow(a, input: Array(x[2...]), kernel: Array(w[2...]), fail: { ShapeError(layer: "", op: "Conv", message: $0) })
                else { return im2col }
                // Each padded side rounded up to a whole stride, plus a row of tail.
                let r = x.count - 2
                let padded = (0..<r).map { Double(x[2 + $0]) + Double(win.pads[$0]) + Double(win.pads[r + $0]) + Double(win.strides[$0]) }
                let direct = (Double(x[0]) * Double(x[1]) * padded.reduce(1, *) + (padded.last ?? 0)) / 2
                guard x.count == 4, y.count == 4, inputs[0].dtype != .float64, DirectConvolution.enabled, DirectConvolution.supported,
                      WinogradConvolution.applies(c: x[1], m: w[0], g: a.int("group"), kh: w[2], kw: w[3], window: win, out: y)
                else { return max(im2col, direct) }
                let winograd = WinogradConvolution.Plan(c: x[1], m: w[0], oh: y[2], ow: y[3])
                    .scratchFloats(n: x[0], c: x[1], m: w[0], threads: KernelThreads.count) / 2
                return max(im2col, direct, winograd)
            }
        },
        with(OperatorSchema("ConvTranspose", versions: [1, 11],
                            attributes: windowAttributes + [.int("group", 1), .ints("output_padding"), .ints("output_shape")],
                            inputs: [.input("X", "T"), .input("W", "T"), .input("B", "T", .optional)], outputs: [.output("Y", "T")],
                            types: ["T": .floats], infer: convTransposeRule, kernel: Kernels.convTranspose)) {
            $0.flops = { q in
                // thop: output elements x (in_channels / groups) x kernel taps; the weight is (in, out / g, k...).
                guard let w = q.inputTypes[1]?.staticShape, w.count >= 3 else { return 0 }
                let g = max(q.attributes.int("group"), 1)
                return 2 * Double(q.outputTypes[0].count) * Double(w[0] / g) * Double(w.dropFirst(2).reduce(1, *))
            }
            $0.multiplyAdds = { inputs, _, _ in
                Double(inputs[0].count) * Double(inputs.count > 1 ? inputs[1].shape.dropFirst().reduce(1, *) : 1)
            }
            // col2im: (output channels / group x taps) columns of the input plane, and the tap map.
            $0.scratchElements = { inputs, _, _ in
                guard inputs.count > 1, let w = inputs[1].staticShape, let x = inputs[0].staticShape else { return 0 }
                let plane = Double(x.dropFirst(2).reduce(1, *)), taps = Double(w.dropFirst(2).reduce(1, *))
                return plane * taps * (Double(w[1]) / 2 + 1)  // floats (4 bytes) and Ints (8), in 8-byte units
            }
        },
    ]

    static func convRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0), w = try ctx.shape(1)
        guard x.count >= 3, x.count <= 5, w.count == x.count else {
            throw ctx.fail("expected a 3-D, 4-D or 5-D input and a weight of the same rank, got \(try ctx.type(0)) and \(try ctx.type(1))")
        }
        let g = ctx.attributes.int("group")
        guard g >= 1, g <= x[1], x[1] % g == 0, w[0] % g == 0, w[1] * g == x[1], w[0] >= 1 else {
            throw ctx.fail("input has \(x[1]) channels but weight \(try ctx.type(1)) with group \(g) does not fit them (the weight's channels times the group must equal the input's)")
        }
        if ctx.has(2), try ctx.shape(2) != [w[0]] {
            throw ctx.fail("bias \(try ctx.type(2)) does not match \(w[0]) output channels")
        }
        let window = try SpatialWindow(ctx, input: Array(x[2...]), kernel: Array(w[2...]))
        return [try ctx.output(0, [x[0], w[0]] + window.output)]
    }

    /// out = stride * (in - 1) + output_padding + dilation * (k - 1) + 1 - pad_begin - pad_end, or
    /// `output_shape` with the pads it implies. The weight is (C_in, C_out / group, k...).
    static func convTransposeRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.shape(0), w = try ctx.shape(1)
        guard x.count >= 3, x.count <= 5, w.count == x.count else {
            throw ctx.fail("expected a 3-D, 4-D or 5-D input and a weight of the same rank, got \(try ctx.type(0)) and \(try ctx.type(1))")
        }
        let g = ctx.attributes.int("group")
        guard g >= 1, g <= max(x[1], 1), w[0] == x[1], x[1] % g == 0, w.dropFirst().allSatisfy({ $0 >= 1 }) else {
            throw ctx.fail("input has \(x[1]) channels but weight \(try ctx.type(1)) with group \(g) expects \(w[0]) and non-empty kernels")
        }
        let (m, overflow) = w[1].multipliedReportingOverflow(by: g)
        guard !overflow, m <= ShapeInference.maxElements else { throw ctx.fail("weight \(try ctx.type(1)) with group \(g) has too many output channels") }
        if ctx.has(2), try ctx.shape(2) != [m] {
            throw ctx.fail("bias \(try ctx.type(2)) does not match \(m) output channels")
        }
        let t = try TransposedWindow(ctx, input: Array(x[2...]), kernel: Array(w[2...]))
        return [try ctx.output(0, [x[0], m] + t.output)]
    }
}

/// Kernel, strides, dilations and begin/end pads of a sliding window over the spatial axes, resolved
/// from the attributes (auto_pad included), and the output size each gives. Checked: a hostile file
/// must not overflow or crash the compiler.
public struct SpatialWindow: Sendable, Equatable {
    public var kernel: [Int]
    public var strides: [Int]
    public var dilations: [Int]
    /// Begin pads then end pads, as ONNX orders them.
    public var pads: [Int]
    public var output: [Int]

    static let limit = 1 << 20

    /// `kernel` is the weight's spatial shape (Conv) or nil to take `kernel_shape` (pooling). The rule
    /// and the kernel both resolve the window from the same decoded attributes.
    public init(_ a: AttributeView, input: [Int], kernel fromWeight: [Int]?, ceilMode: Bool = false,
                fail: @escaping (String) -> any Error) throws {
        // Conv clamps a negative SAME padding (stride past the window) to 0, as onnxruntime and the ONNX
        // reference do; for pooling they disagree (one shifts the windows, others refuse), so pooling refuses.
        let clampsSamePadding = fromWeight != nil
        let n = input.count
        let ctx = Failing(fail)
        var k = a.ints("kernel_shape") ?? fromWeight ?? []
        if let w = fromWeight, a.ints("kernel_shape") != nil, k != w {
            throw ctx.fail("kernel_shape \(k) does not match the weight's \(w)")
        }
        if fromWeight == nil && k.isEmpty { k = [] }
        let s = a.ints("strides") ?? [Int](repeating: 1, count: n)
        let d = a.ints("dilations") ?? [Int](repeating: 1, count: n)
        var p = a.ints("pads") ?? [Int](repeating: 0, count: 2 * n)
        guard k.count == n, k.allSatisfy({ $0 >= 1 && $0 < Self.limit }) else { throw ctx.fail("kernel_shape \(k) must hold \(n) positive sizes") }
        guard s.count == n, s.allSatisfy({ $0 >= 1 && $0 < Self.limit }) else { throw ctx.fail("strides \(s) must hold \(n) positive values") }
        guard d.count == n, d.allSatisfy({ $0 >= 1 && $0 < Self.limit }) else { throw ctx.fail("dilations \(d) must hold \(n) positive values") }
        guard p.count == 2 * n, p.allSatisfy({ $0 >= 0 && $0 < Self.limit }) else { throw ctx.fail("pads \(p) must hold \(2 * n) non-negative values") }
        let auto = a.string("auto_pad")
        var out = [Int](repeating: 0, count: n)
        for i in 0..<n {
            let ek = d[i] * (k[i] - 1) + 1
            switch auto {
            case "SAME_UPPER", "SAME_LOWER":
                // Output ceil(in / stride); the padding that needs, the odd one at the end (UPPER) or begin (LOWER).
                out[i] = (input[i] + s[i] - 1) / s[i]
                let needed = (out[i] - 1) * s[i] + ek - input[i]
                guard needed >= 0 || clampsSamePadding else {
                    throw ctx.fail("auto_pad \(auto) would pad axis \(i) by \(needed) (the stride passes the window); runtimes disagree on what that means, so give explicit pads")
                }
                let total = max(0, needed)
                p[i] = auto == "SAME_UPPER" ? total / 2 : total - total / 2
                p[i + n] = total - p[i]
            case "VALID":
                p[i] = 0
                p[i + n] = 0
                guard input[i] >= ek else { throw ctx.fail("kernel \(k) (dilation \(d)) does not fit the input \(input)") }
                out[i] = (input[i] - ek) / s[i] + 1
            default:
                let span = input[i] + p[i] + p[i + n]
                guard span >= ek else {
                    throw ctx.fail("kernel \(k) (dilation \(d)) does not fit the input \(input) with pads \(p)")
                }
                if ceilMode {
                    // The last window must start inside the input or its begin padding (PyTorch, ONNX).
                    out[i] = (span - ek + s[i] - 1) / s[i] + 1
                    if (out[i] - 1) * s[i] >= input[i] + p[i] { out[i] -= 1 }
                } else {
                    out[i] = (span - ek) / s[i] + 1
                }
            }
        }
        self.kernel = k
        self.strides = s
        self.dilations = d
        self.pads = p
        self.output = out
    }

    init(_ ctx: ShapeContext, input: [Int], kernel: [Int]?, ceilMode: Bool = false) throws {
        try self.init(ctx.attributes, input: input, kernel: kernel, ceilMode: ceilMode, fail: ctx.fail)
    }

    public init(kernel: [Int], strides: [Int], dilations: [Int], pads: [Int], output: [Int]) {
        self.kernel = kernel
        self.strides = strides
        self.dilations = dilations
        self.pads = pads
        self.output = output
    }
}

/// ConvTranspose's window: the output size and the begin/end pads (which may be negative when
/// `output_shape` asks for more than the natural size).
public struct TransposedWindow: Sendable, Equatable {
    public var kernel: [Int]
    public var strides: [Int]
    public var dilations: [Int]
    public var pads: [Int]
    public var output: [Int]

    init(_ ctx: ShapeContext, input: [Int], kernel: [Int]) throws {
        try self.init(ctx.attributes, input: input, kernel: kernel, fail: ctx.fail)
    }

    public init(_ a: AttributeView, input: [Int], kernel k: [Int], fail: @escaping (String) -> any Error) throws {
        let n = input.count
        let ctx = Failing(fail)
        let limit = SpatialWindow.limit
        if let ks = a.ints("kernel_shape"), ks != k { throw ctx.fail("kernel_shape \(ks) does not match the weight's \(k)") }
        let s = a.ints("strides") ?? [Int](repeating: 1, count: n)
        let d = a.ints("dilations") ?? [Int](repeating: 1, count: n)
        var p = a.ints("pads") ?? [Int](repeating: 0, count: 2 * n)
        let op = a.ints("output_padding") ?? [Int](repeating: 0, count: n)
        guard k.allSatisfy({ $0 >= 1 && $0 < limit }) else { throw ctx.fail("kernel \(k) must hold positive sizes") }
        guard s.count == n, s.allSatisfy({ $0 >= 1 && $0 < limit }) else { throw ctx.fail("strides \(s) must hold \(n) positive values") }
        guard d.count == n, d.allSatisfy({ $0 >= 1 && $0 < limit }) else { throw ctx.fail("dilations \(d) must hold \(n) positive values") }
        guard p.count == 2 * n, p.allSatisfy({ $0 >= 0 && $0 < limit }) else { throw ctx.fail("pads \(p) must hold \(2 * n) non-negative values") }
        guard op.count == n, (0..<n).allSatisfy({ op[$0] >= 0 && (op[$0] < s[$0] || op[$0] < d[$0]) }) else {
            throw ctx.fail("output_padding \(op) must hold \(n) values each below its stride or dilation")
        }
        guard input.allSatisfy({ $0 < limit }) else { throw ctx.fail("input \(input) is too large") }
        let auto = a.string("auto_pad")
        var out = [Int](repeating: 0, count: n)
        var requested = a.ints("output_shape")
        if let r = requested, r.count == n + 2 { requested = Array(r[2...]) }
        if let r = requested {
            guard r.count == n, r.allSatisfy({ $0 >= 1 && $0 < limit }) else {
                throw ctx.fail("output_shape \(a.ints("output_shape") ?? []) must hold \(n) positive sizes")
            }
        }
        if requested != nil, auto == "NOTSET", a.ints("pads") != nil {
            throw ctx.fail("give output_shape or pads, not both: runtimes read the pair differently")
        }
        /// floor(t / 2), as the ONNX reference divides a negative padding.
        func half(_ t: Int) -> Int { t >= 0 ? t / 2 : -((-t + 1) / 2) }
        for i in 0..<n {
            let natural = s[i] * (input[i] - 1) + op[i] + d[i] * (k[i] - 1) + 1
            if auto == "SAME_UPPER" || auto == "SAME_LOWER" {
                // The padding that gives the size (input x stride, or output_shape), split as the spec
                // splits it: the extra one at the end for SAME_UPPER, at the beginning for SAME_LOWER.
                out[i] = requested?[i] ?? input[i] * s[i]
                let total = natural - out[i]
                guard total >= 0 || total % 2 == 0 else {
                    // Halving an odd negative padding: the reference floors, onnxruntime truncates.
                    throw ctx.fail("auto_pad \(auto) needs a padding of \(total) on axis \(i), which runtimes split differently; give pads and output_padding instead")
                }
                p[i] = auto == "SAME_UPPER" ? half(total) : total - half(total)
                p[i + n] = total - p[i]
            } else if let r = requested {
                // Without auto_pad the specification's text splits the padding between both ends, while
                // onnxruntime and the ONNX reference put all of it at the end: they agree only when the
                // beginning gets none (a total of 0 or -1). Otherwise the answer depends on the runtime.
                let total = natural - r[i]
                guard total == 0 || total == -1 else {
                    throw ctx.fail("output_shape \(r) needs a padding of \(total) on axis \(i), which the ONNX text and its runtimes place differently; give pads and output_padding instead")
                }
                p[i] = 0
                p[i + n] = total
                out[i] = r[i]
            } else {
                if auto == "VALID" { p[i] = 0; p[i + n] = 0 }
                out[i] = natural - p[i] - p[i + n]
                guard out[i] >= 1 else { throw ctx.fail("pads \(p) leave no output for the input \(input)") }
            }
        }
        self.kernel = k
        self.strides = s
        self.dilations = d
        self.pads = p
        self.output = out
    }
}

/// Lets window code written against `ctx.fail` run with any error maker.
struct Failing {
    let make: (String) -> any Error
    init(_ make: @escaping (String) -> any Error) { self.make = make }
    func fail(_ message: String) -> any Error { make(message) }
}
