import CKernels
import Synchronization

/// Winograd F(2x2, 3x3) for 3x3, stride-1, undilated, ungrouped convolutions (Sources/CKernels/winograd.c):
/// 16 multiplies per 2x2 block of outputs and input channel where the direct kernel takes 36, at the
/// cost of transforming the input and output tiles. It wins where the channels are wide enough for its
/// 16 matrix products to run at the tile's speed:
///
///     x --pad to whole tiles--> phases --B^T d B--> V[16] (c x tiles), runs of tiles at a time
///     M[xi] = U[xi] (m x c) * V[xi]        U = G g G^T, the kernels transformed on each call
///     y = A^T M A, then bias and activation
///
/// Its outputs differ from the direct kernel's by a few units in the last place (the transforms round):
/// on random layers of YOLOv5's widths (32 to 256 channels) by up to 3e-6 of the largest output, on every
/// sample model by up to 3.8e-7 of it (`FastKernelTests`). A convolution where an infinity or a NaN
/// appears among the sums runs again on the direct kernel, which keeps special values as a plain sum
/// has them. With `enabled` false, these convolutions run the direct kernel.
public enum WinogradConvolution {
    @TaskLocal public static var enabled = true

    /// Whether a convolution runs here: 3x3, stride 1, no dilation, one group, and at least 32 input
    /// and output channels (below that the transforms cost more than the products save: 16 -> 16
    /// channels at 160x160 ran 15% slower than the direct kernel).
    static func applies(c: Int, m: Int, g: Int, kh: Int, kw: Int, window win: SpatialWindow, out: [Int]) -> Bool {
        enabled && g == 1 && kh == 3 && kw == 3 && win.strides == [1, 1] && win.dilations == [1, 1] && c >= 32 && m >= 32
            && out[2] >= 2 && out[3] >= 2
    }

    /// How a convolution of c -> m channels to oh x ow runs: 2x2 tiles, ntx x nty of them, in runs of
    /// `perRun` (their transforms, 16 x (c + m) x tiles, about a MiB, half of L2, in whole 48-column
    /// tiles of the products; the last run may be shorter), `ld` floats apart in the scratch.
    struct Plan {
        let ntx, nty, tiles, perRun, runs, ld: Int

        init(c: Int, m: Int, oh: Int, ow: Int) {
            let mr = Int(YC_CONV_MR), mp = (m + mr - 1) / mr * mr
            (ntx, nty) = ((ow + 1) / 2, (oh + 1) / 2)
            tiles = ntx * nty
            perRun = Swift.min(tiles, Swift.max(48, (1 << 14) / (c + mp) / 48 * 48))
            runs = (tiles + perRun - 1) / perRun
            ld = (perRun + 15) / 16 * 16
        }

        /// Floats the convolution allocates besides its output: the padded input (n images of c
        /// channels), the transformed kernels, and each worker's transformed tiles.
        func scratchFloats(n: Int, c: Int, m: Int, threads: Int) -> Double {
            let phases = Double(n) * Double(c) * Double(2 * nty + 2) * Double(2 * ntx + 2) + 64
            let workers = Double(Swift.max(1, Swift.min(threads, n * runs)))
            return phases + 16 * Double(m) * Double(c) + workers * Double(yc_winograd_scratch(m, c, ld))
        }
    }
}

extension Kernels {
    static func winogradConv2d(_ xp: UnsafePointer<Float>, _ xShape: [Int], _ wp: UnsafePointer<Float>, _ wShape: [Int],
                               _ win: SpatialWindow, _ out: [Int], _ yp: UnsafeMutablePointer<Float>, activation: FusedActivation,
                               bias: UnsafePointer<Float>?, threads: Int) {
        if !winogradSums(xp, xShape, wp, wShape, win, out, yp, activation: activation, bias: bias, threads: threads) {
            // An infinity or a NaN among the sums: the transforms' differences can turn an infinity into a NaN
            // (inf - inf) or overflow where the direct sum does not, so the direct kernel computes it all again,
            // once Winograd's buffers are freed (the memory limit counts the larger of the two, not both).
            directConv2d(xp, xShape, wp, wShape, 1, win, out, yp, activation: activation, bias: bias, threads: threads)
        }
    }

    /// The Winograd sums, bias and activation into yp; false when a sum is an infinity or a NaN.
    private static func winogradSums(_ xp: UnsafePointer<Float>, _ xShape: [Int], _ wp: UnsafePointer<Float>, _ wShape: [Int],
                                     _ win: SpatialWindow, _ out: [Int], _ yp: UnsafeMutablePointer<Float>,
                                     activation: FusedActivation, bias: UnsafePointer<Float>?, threads: Int) -> Bool {
        let (n, c, h, wd) = (xShape[0], xShape[1], xShape[2], xShape[3])
        let m = wShape[0], (oh, ow) = (out[2], out[3]), plane = oh * ow
        let plan = WinogradConvolution.Plan(c: c, m: m, oh: oh, ow: ow)
        // Padded to whole tiles: 2 nty + 2 rows and 2 ntx + 2 columns, the extra row or column zero.
        var padded = win
        padded.pads[2] += 2 * plan.nty - oh
        padded.pads[3] += 2 * plan.ntx - ow
        let layout = ConvPhases(height: h, width: wd, window: padded, kh: 3, kw: 3, channels: 1, asIs: false)
        let channelFloats = layout.channelFloats
        let phases = UnsafeMutablePointer<Float>.allocate(capacity: n * c * channelFloats + 64)
        defer { phases.deallocate() }
        (phases + n * c * channelFloats).initialize(repeating: 0, count: 64)
        let u = UnsafeMutablePointer<Float>.allocate(capacity: 16 * m * c)
        defer { u.deallocate() }
        // The phases and the transformed kernels in one parallel loop.
        let outputsPerTask = Swift.max(1, (1 << 14) / (9 * c))
        let fills = layout.fillTasks(channels: n * c), transforms = (m + outputsPerTask - 1) / outputsPerTask
        parallelTasks(fills + transforms, threads: threads) { _, task in
            if task < fills {
                layout.fill(task: task, channels: n * c, from: xp, into: phases)
            } else {
                let o0 = (task - fills) * outputsPerTask
                yc_winograd_weights(wp, m, c, o0, Swift.min(m, o0 + outputsPerTask), u)
            }
        }

        let offsets = (0..<c).map { $0 * plan.ld }
        let scratchFloats = yc_winograd_scratch(m, c, plan.ld)
        let tasks = n * plan.runs
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: parallelWorkers(tasks, threads: threads) * scratchFloats)
        defer { scratch.deallocate() }
        let nonfinite = Atomic<Bool>(false)
        offsets.withUnsafeBufferPointer { ob in
            parallelTasks(tasks, threads: threads) { worker, t in
                let b = t / plan.runs, j0 = (t % plan.runs) * plan.perRun
                var conv = yc_winograd_conv(u: u, phases: phases + b * c * channelFloats, off: ob.baseAddress!, m: m, c: c, ld: plan.ld,
                                            channelFloats: channelFloats, wq: layout.wq, ntx: plan.ntx, oh: oh, ow: ow)
                var pass = activation.outputPass(bias: bias)
                let j1 = Swift.min(plan.tiles, j0 + plan.perRun)
                if yc_winograd_tiles(&conv, j0, j1, yp + b * m * plane, &pass, scratch + worker * scratchFloats) != 0 {
                    nonfinite.store(true, ordering: .relaxed)
                }
            }
        }
        return !nonfinite.load(ordering: .relaxed)
    }
}
