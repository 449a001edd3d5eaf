import CKernels

/// A 2-D float32 convolution without im2col (Sources/CKernels/conv.c): the input is copied once into
/// zero-padded stride phases, where every tap of an output row reads one contiguous run, and an
/// AVX-512 kernel multiplies the weights into it tile by tile. Each output is one chain of
/// fused multiply-adds over the taps in order, so the result is the same bits however the rows are
/// split across threads.
///
///     x (c, h, w)  --pad, split by stride-->  phases (c, sh x sw planes of hq x wq)
///     y[o][oy][ox] = sum over (ci, ki, kj) of w[o][ci][ki][kj] * phases[off(ci, ki, kj) + oy * wq + ox]
///
/// A 1x1, stride-1, unpadded convolution reads its input as it is.
public enum DirectConvolution {
    /// Whether Conv may run the direct kernel. It runs only where the CPU has AVX-512; elsewhere, and
    /// with this false, Conv runs im2col and OpenBLAS (the tests run both paths on every machine).
    @TaskLocal public static var enabled = true

    /// Whether this CPU runs the direct kernel.
    public static let supported = yc_conv_available() != 0
}

extension Kernels {
    static func directConv2d(_ xp: UnsafePointer<Float>, _ xShape: [Int], _ wp: UnsafePointer<Float>, _ wShape: [Int], _ g: Int,
                             _ win: SpatialWindow, _ out: [Int], _ yp: UnsafeMutablePointer<Float>, activation: FusedActivation,
                             bias: UnsafePointer<Float>?, threads: Int) {
        let (n, c, h, wd) = (xShape[0], xShape[1], xShape[2], xShape[3])
        let (m, cg, kh, kw) = (wShape[0], wShape[1], wShape[2], wShape[3])
        let (oh, ow) = (out[2], out[3])
        let k = cg * kh * kw, plane = oh * ow, mg = m / g
        let layout = ConvPhases(height: h, width: wd, window: win, kh: kh, kw: kw, channels: cg, asIs: kh == 1 && kw == 1)
        let (wq, channelFloats) = (layout.wq, layout.channelFloats)
        let phases: UnsafeMutablePointer<Float>? = layout.asIs ? nil : .allocate(capacity: n * c * channelFloats + wq)
        defer { phases?.deallocate() }
        phases.map { ($0 + n * c * channelFloats).initialize(repeating: 0, count: wq) }
        let source = phases.map { UnsafePointer($0) } ?? xp
        // Output channels go to tiles YC_CONV_MR at a time ("panels"), their weights read where they lie.
        let mr = Int(YC_CONV_MR)
        let panels = (mg + mr - 1) / mr
        if let phases {
            parallelTasks(layout.fillTasks(channels: n * c), threads: threads) { _, task in
                layout.fill(task: task, channels: n * c, from: xp, into: phases)
            }
        }

        // Tasks of a block of output rows (about eight 48-column tiles, the blocks of an image as even as
        // whole rows allow) and, where that leaves too few tasks to share, a block of output channels (in
        // whole weight panels). Any split gives the same bits.
        let wanted = Swift.max(1, Swift.min(oh, (oh * wq + 383) / 384))
        let rows = (oh + wanted - 1) / wanted, blocks = (oh + rows - 1) / rows
        let channelBlocks = Swift.min(panels, Swift.max(1, (4 * threads + n * g * blocks - 1) / (n * g * blocks)))
        let panelsPerBlock = (panels + channelBlocks - 1) / channelBlocks
        layout.offsets.withUnsafeBufferPointer { ob in
            let off = ob.baseAddress!
            parallelTasks(n * g * blocks * channelBlocks, threads: threads) { _, t in
                let cb = t % channelBlocks, block = (t / channelBlocks) % blocks
                let gi = (t / (channelBlocks * blocks)) % g, b = t / (channelBlocks * blocks * g)
                let r0 = block * rows, r1 = Swift.min(oh, r0 + rows)
                let o0 = cb * panelsPerBlock * mr, o1 = Swift.min(mg, o0 + panelsPerBlock * mr)
                guard o0 < o1 else { return }
                let dst = yp + (b * m + gi * mg + o0) * plane
                var pass = activation.outputPass(bias: bias.map { $0 + gi * mg + o0 })
                yc_conv_rows(wp + (gi * mg + o0) * k, o1 - o0, k, off, source + (b * c + gi * cg) * channelFloats, wq, ow,
                             plane, r0, r1, dst, &pass)
            }
        }
    }
}

/// The stride phases of a convolution's input (Sources/CKernels/conv.c): each channel zero-padded and
/// split into sh x sw planes of hq x wq, and the flat offset in them of each tap (channel, ki, kj), so
/// that output (oy, ox) reads tap p at offsets[p] + oy * wq + ox. `asIs` (a 1x1, stride-1, unpadded
/// window) reads the input itself: one phase of the input's own size.
struct ConvPhases {
    let height, width, hq, wq, channelFloats: Int
    let pads: [Int], strides: [Int]
    let asIs: Bool
    let offsets: [Int]

    init(height: Int, width: Int, window win: SpatialWindow, kh: Int, kw: Int, channels: Int, asIs unitKernel: Bool) {
        let (sh, sw, dh, dw) = (win.strides[0], win.strides[1], win.dilations[0], win.dilations[1])
        let p = win.pads
        asIs = unitKernel && sh == 1 && sw == 1 && p.allSatisfy { $0 == 0 }
        (self.height, self.width, pads, strides) = (height, width, p, win.strides)
        hq = asIs ? height : (height + p[0] + p[2] + sh - 1) / sh
        wq = asIs ? width : (width + p[1] + p[3] + sw - 1) / sw
        let phaseFloats = hq * wq
        channelFloats = sh * sw * phaseFloats
        var offsets = [Int](repeating: 0, count: channels * kh * kw)
        for ci in 0..<channels { for ki in 0..<kh { for kj in 0..<kw {
            let (y, x) = (ki * dh, kj * dw)
            offsets[(ci * kh + ki) * kw + kj] = ci * channelFloats + ((y % sh) * sw + x % sw) * phaseFloats + (y / sh) * wq + x / sw
        } } }
        self.offsets = offsets
    }

    /// Lays out consecutive channels' phases (channelFloats floats each). The last row's unstored columns
    /// read up to wq floats past the last channel: the caller keeps a zeroed tail there.
    func fill(from src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, channels: Int = 1) {
        yc_conv_phases(src, channels, height, width, pads[0], pads[1], strides[0], strides[1], hq, wq, dst)
    }

    /// Channels laid out per parallel task: about 128 KiB of phases each.
    private var channelsPerTask: Int { Swift.max(1, (1 << 15) / Swift.max(channelFloats, 1)) }

    /// The tasks that lay out `channels` channels (`fill(task:...)` runs one), so that a caller can
    /// share one parallel loop between them and work of its own.
    func fillTasks(channels: Int) -> Int { (channels + channelsPerTask - 1) / channelsPerTask }

    /// Task `task` of `fillTasks(channels:)`: its run of the channels from src (planes of height x width)
    /// into dst (channelFloats apart).
    func fill(task: Int, channels: Int, from src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>) {
        let t0 = task * channelsPerTask, t1 = Swift.min(channels, t0 + channelsPerTask)
        fill(from: src + t0 * height * width, into: dst + t0 * channelFloats, channels: t1 - t0)
    }
}
