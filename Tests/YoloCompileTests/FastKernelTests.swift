import CKernels
import Foundation
import XCTest
import YoloCompile

/// The interpreter's fast paths against plain ones on seeded random shapes: the blocked, threaded
/// convolution (direct kernel, Winograd and im2col) against a seven-loop convolution in double; every fused activation against the
/// same graph run node by node (bit for bit); threaded products and elementwise loops against one
/// thread (bit for bit).
final class FastKernelTests: XCTestCase {
    struct ConvCase: CustomStringConvertible {
        var n, c, m, g, h, w, kh, kw, sh, sw, dh, dw: Int
        var pads: [Int]  // top, left, bottom, right
        var bias: Bool
        var description: String {
            "x (\(n),\(c),\(h),\(w)) w (\(m),\(c / g),\(kh),\(kw)) group \(g) strides (\(sh),\(sw)) dilations (\(dh),\(dw)) pads \(pads) bias \(bias)"
        }
        var attributes: [String: Attribute] {
            ["group": .int(g), "kernel_shape": .ints([kh, kw]), "strides": .ints([sh, sw]), "dilations": .ints([dh, dw]),
             "pads": .ints([pads[0], pads[1], pads[2], pads[3]])]
        }
    }

    /// Odd sizes, strides 1 to 3, dilations 1 and 2, asymmetric pads, groups (depthwise among them),
    /// 1x1 kernels (the direct path) and outputs tall enough to be split into row blocks.
    static func randomCases(_ count: Int, seed: UInt64) -> [ConvCase] {
        var rng = SplitMix64(seed: seed)
        func pick(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(rng.next() % UInt64(r.count)) }
        var cases: [ConvCase] = []
        while cases.count < count {
            let g = [1, 1, 2, 3, 0][pick(0...4)]  // 0: depthwise
            let cg = pick(1...5)
            let c = g == 0 ? pick(1...7) : cg * g
            let group = g == 0 ? c : g
            let m = g == 0 ? c : group * pick(1...4)
            let kh = [1, 1, 3, 3, 5, 2][pick(0...5)], kw = pick(0...3) == 0 ? kh : [1, 3, 2][pick(0...2)]
            let tall = pick(0...3) == 0
            let cv = ConvCase(n: pick(1...2), c: c, m: m, g: group, h: tall ? pick(60...97) : pick(1...23), w: pick(1...29),
                              kh: kh, kw: kw, sh: pick(1...3), sw: pick(1...3), dh: pick(1...2), dw: pick(1...2),
                              pads: (0..<4).map { _ in pick(0...2) }, bias: pick(0...2) > 0)
            if (cv.h + cv.pads[0] + cv.pads[2] - cv.dh * (cv.kh - 1) - 1) < 0 || (cv.w + cv.pads[1] + cv.pads[3] - cv.dw * (cv.kw - 1) - 1) < 0 { continue }
            cases.append(cv)
        }
        return cases
    }

    static func randomTensor(_ shape: [Int], _ rng: inout SplitMix64) -> Tensor {
        Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in rng.nextUnitFloat() * 4 - 2 })
    }

    /// Conv in double, straight from the definition.
    static func referenceConv(_ x: Tensor, _ w: Tensor, _ bias: Tensor?, _ cv: ConvCase) -> (shape: [Int], values: [Double]) {
        let oh = (cv.h + cv.pads[0] + cv.pads[2] - cv.dh * (cv.kh - 1) - 1) / cv.sh + 1
        let ow = (cv.w + cv.pads[1] + cv.pads[3] - cv.dw * (cv.kw - 1) - 1) / cv.sw + 1
        let cg = cv.c / cv.g, mg = cv.m / cv.g
        var y = [Double](repeating: 0, count: cv.n * cv.m * oh * ow)
        for b in 0..<cv.n { for o in 0..<cv.m { for oy in 0..<oh { for ox in 0..<ow {
            var s = bias.map { Double($0.floats[o]) } ?? 0
            let gi = o / mg
            for ci in 0..<cg { for ki in 0..<cv.kh { for kj in 0..<cv.kw {
                let iy = oy * cv.sh + ki * cv.dh - cv.pads[0], ix = ox * cv.sw + kj * cv.dw - cv.pads[1]
                guard iy >= 0, iy < cv.h, ix >= 0, ix < cv.w else { continue }
                let xv = x.floats[((b * cv.c + gi * cg + ci) * cv.h + iy) * cv.w + ix]
                let wv = w.floats[((o * cg + ci) * cv.kh + ki) * cv.kw + kj]
                s += Double(xv) * Double(wv)
            } } }
            y[((b * cv.m + o) * oh + oy) * ow + ox] = s
        } } } }
        return ([cv.n, cv.m, oh, ow], y)
    }

    /// A graph of one Conv (weights and bias as constants) followed by `activation` nodes.
    func convGraph(_ cv: ConvCase, _ w: Tensor, _ b: Tensor?, activation: (GraphBuilder, ValueID) throws -> ValueID) throws -> Graph {
        let gb = GraphBuilder(name: "conv", parameters: ZeroParameters())
        let x = gb.input("x", TensorType(.float32, [cv.n, cv.c, cv.h, cv.w]))
        let y = try gb.op("Conv", [x, gb.constant(w), b.map(gb.constant)], cv.attributes)
        gb.output(try activation(gb, y), name: "y")
        return gb.finish()
    }

    func testBlockedThreadedConvolutionMatchesTheDefinition() throws {
        var rng = SplitMix64(seed: 15)
        for (i, cv) in Self.randomCases(80, seed: 1515).enumerated() {
            let x = Self.randomTensor([cv.n, cv.c, cv.h, cv.w], &rng)
            let w = Self.randomTensor([cv.m, cv.c / cv.g, cv.kh, cv.kw], &rng)
            let b = cv.bias ? Self.randomTensor([cv.m], &rng) : nil
            let (shape, want) = Self.referenceConv(x, w, b, cv)
            let g = try convGraph(cv, w, b) { _, y in y }
            let threads = 1 + i % 3
            // The direct kernel (where the CPU has AVX-512) and im2col with OpenBLAS (everywhere else).
            for direct in [true, false] {
                let y = try DirectConvolution.$enabled.withValue(direct) {
                    try KernelThreads.$count.withValue(threads) { try Interpreter(g).run([x])[0] }
                }
                XCTAssertEqual(y.shape, shape, "\(cv)")
                let scale = max(1, want.map(abs).max() ?? 0)
                let err = zip(y.floats, want).map { abs(Double($0) - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(err / scale, 1e-5, "\(cv), \(threads) threads, direct \(direct)")
            }
        }
    }

    /// The direct kernel, and the depthwise one, compute each output as one chain of fused multiply-adds
    /// over its taps in order (channel, row, column; padding reads zero), then add the bias: bit for bit
    /// what this loop computes, on any thread count. Shapes whose tiles cross output rows, end mid-tile,
    /// leave channels over from the 8-row weight panels, have taps enough to run in passes, and depthwise
    /// planes in blocks of rows and columns with rows and columns left over (EfficientViT's 7x7 windows too).
    /// Without AVX-512 only the depthwise cases run (other convolutions then run im2col and OpenBLAS).
    func testDirectConvolutionIsOneMultiplyAddChainPerOutput() throws {
        var rng = SplitMix64(seed: 20)
        let cases = [
            ConvCase(n: 2, c: 13, m: 21, g: 1, h: 37, w: 29, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pads: [1, 1, 1, 1], bias: true),
            ConvCase(n: 1, c: 6, m: 10, g: 2, h: 41, w: 53, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pads: [1, 1, 0, 2], bias: false),
            ConvCase(n: 1, c: 40, m: 9, g: 1, h: 23, w: 17, kh: 1, kw: 1, sh: 1, sw: 1, dh: 1, dw: 1, pads: [0, 0, 0, 0], bias: true),
            ConvCase(n: 1, c: 5, m: 16, g: 1, h: 30, w: 31, kh: 5, kw: 3, sh: 3, sw: 1, dh: 1, dw: 2, pads: [2, 0, 1, 2], bias: true),
            // 630 taps: passes of 256 taps whose sums continue in a buffer.
            ConvCase(n: 1, c: 70, m: 20, g: 1, h: 9, w: 11, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pads: [1, 1, 1, 1], bias: true),
            // Depthwise.
            ConvCase(n: 2, c: 7, m: 7, g: 7, h: 33, w: 150, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pads: [1, 1, 1, 1], bias: true),
            ConvCase(n: 1, c: 5, m: 5, g: 5, h: 40, w: 141, kh: 5, kw: 5, sh: 2, sw: 2, dh: 1, dw: 2, pads: [2, 0, 3, 4], bias: false),
            ConvCase(n: 3, c: 4, m: 4, g: 4, h: 7, w: 7, kh: 7, kw: 7, sh: 1, sw: 1, dh: 1, dw: 1, pads: [3, 3, 3, 3], bias: true),
        ]
        for cv in cases {
            let x = Self.randomTensor([cv.n, cv.c, cv.h, cv.w], &rng)
            let w = Self.randomTensor([cv.m, cv.c / cv.g, cv.kh, cv.kw], &rng)
            let b = cv.bias ? Self.randomTensor([cv.m], &rng) : nil
            guard DirectConvolution.supported || (cv.g == cv.c && cv.m == cv.c) else { continue }
            let oh = (cv.h + cv.pads[0] + cv.pads[2] - cv.dh * (cv.kh - 1) - 1) / cv.sh + 1
            let ow = (cv.w + cv.pads[1] + cv.pads[3] - cv.dw * (cv.kw - 1) - 1) / cv.sw + 1
            let cg = cv.c / cv.g, mg = cv.m / cv.g
            var want = [Float](repeating: 0, count: cv.n * cv.m * oh * ow)
            for bi in 0..<cv.n { for o in 0..<cv.m { for oy in 0..<oh { for ox in 0..<ow {
                var acc: Float = 0
                for ci in 0..<cg { for ki in 0..<cv.kh { for kj in 0..<cv.kw {
                    let iy = oy * cv.sh + ki * cv.dh - cv.pads[0], ix = ox * cv.sw + kj * cv.dw - cv.pads[1]
                    let inside = iy >= 0 && iy < cv.h && ix >= 0 && ix < cv.w
                    let xv = inside ? x.floats[((bi * cv.c + (o / mg) * cg + ci) * cv.h + iy) * cv.w + ix] : 0
                    acc = acc.addingProduct(w.floats[((o * cg + ci) * cv.kh + ki) * cv.kw + kj], xv)
                } } }
                want[((bi * cv.m + o) * oh + oy) * ow + ox] = b.map { acc + $0.floats[o] } ?? acc
            } } } }
            let g = try convGraph(cv, w, b) { _, y in y }
            for threads in [1, 3] {
                let y = try KernelThreads.$count.withValue(threads) { try Interpreter(g).run([x])[0] }
                assertSameBits(y, Tensor(shape: [cv.n, cv.m, oh, ow], floats: want), "\(cv), \(threads) threads")
            }
        }
    }

    /// Winograd F(2x2, 3x3) (3x3, stride 1, at least 32 channels in and out) against the definition in
    /// double, within 1e-5 of the largest output as every fast path, the same bits on any thread count,
    /// and not the direct kernel's bits (so it ran): odd sizes (a last tile half outside the output),
    /// asymmetric pads, one tile, several blocks of tile rows, a batch, and channels off the 16-lane
    /// vectors and the 8-row weight panels.
    func testWinogradConvolutionMatchesTheDefinition() throws {
        guard DirectConvolution.supported else { throw XCTSkip("Winograd runs only beside the direct kernel (AVX-512)") }
        var rng = SplitMix64(seed: 23)
        func conv3x3(n: Int, c: Int, m: Int, h: Int, w: Int, pads: [Int], bias: Bool) -> ConvCase {
            ConvCase(n: n, c: c, m: m, g: 1, h: h, w: w, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pads: pads, bias: bias)
        }
        let cases = [
            conv3x3(n: 2, c: 32, m: 40, h: 19, w: 23, pads: [1, 1, 1, 1], bias: true),
            conv3x3(n: 1, c: 48, m: 33, h: 9, w: 30, pads: [0, 1, 2, 0], bias: false),
            conv3x3(n: 1, c: 35, m: 64, h: 2, w: 2, pads: [1, 1, 1, 1], bias: true),
            conv3x3(n: 1, c: 32, m: 32, h: 80, w: 81, pads: [1, 1, 1, 1], bias: true),  // runs of 240 tiles, rows of 41
            conv3x3(n: 1, c: 300, m: 37, h: 7, w: 5, pads: [1, 2, 0, 1], bias: true),
            conv3x3(n: 2, c: 200, m: 70, h: 20, w: 19, pads: [1, 1, 1, 1], bias: false),  // runs of 48 tiles from mid-row
        ]
        for cv in cases {
            let x = Self.randomTensor([cv.n, cv.c, cv.h, cv.w], &rng)
            let w = Self.randomTensor([cv.m, cv.c, 3, 3], &rng)
            let b = cv.bias ? Self.randomTensor([cv.m], &rng) : nil
            let (shape, want) = Self.referenceConv(x, w, b, cv)
            let g = try convGraph(cv, w, b) { _, y in y }
            let runs = try [1, 2, 3].map { threads in try KernelThreads.$count.withValue(threads) { try Interpreter(g).run([x])[0] } }
            XCTAssertEqual(runs[0].shape, shape, "\(cv)")
            let scale = max(1, want.map(abs).max() ?? 0)
            let err = zip(runs[0].floats, want).map { abs(Double($0) - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(err / scale, 1e-5, "\(cv)")
            for y in runs.dropFirst() { assertSameBits(y, runs[0], "\(cv): threads") }
            let direct = try WinogradConvolution.$enabled.withValue(false) { try Interpreter(g).run([x])[0] }
            XCTAssertNotEqual(direct.floats, runs[0].floats, "\(cv): Winograd did not run")
        }
    }

    /// Infinities and NaNs: the transforms' differences would turn an infinity into a NaN (inf - inf)
    /// where the direct sum keeps it, so a convolution where one appears among the sums runs again on
    /// the direct kernel: the direct kernel's bits, with the SiLU fused after it; and its NaNs and
    /// infinities are where a plain sum puts them.
    func testWinogradWithInfinitiesRunsTheDirectKernel() throws {
        guard DirectConvolution.supported else { throw XCTSkip("Winograd runs only beside the direct kernel (AVX-512)") }
        var rng = SplitMix64(seed: 24)
        let cv = ConvCase(n: 1, c: 32, m: 32, g: 1, h: 90, w: 20, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pads: [1, 1, 1, 1], bias: true)
        var x = Self.randomTensor([cv.n, cv.c, cv.h, cv.w], &rng)
        x.floats[5 * 20 + 7] = .infinity
        x.floats[3 * 90 * 20 + 40 * 20 + 3] = -.infinity
        x.floats[31 * 90 * 20 + 70 * 20 + 19] = .nan
        let w = Self.randomTensor([cv.m, cv.c, 3, 3], &rng), b = Self.randomTensor([cv.m], &rng)
        let g = try convGraph(cv, w, b) { gb, c in try gb.op("Mul", [c, try gb.op("Sigmoid", [c])]) }
        let fast = try Interpreter(g).run([x])[0]
        let direct = try WinogradConvolution.$enabled.withValue(false) { try Interpreter(g).run([x])[0] }
        assertSameBits(fast, direct, "with infinities")
        // Each special input reaches the 3x3 outputs around it in every channel (3x2 at the right edge).
        XCTAssertEqual(fast.floats.filter { !$0.isFinite }.count, 32 * (9 + 9 + 6))
        // Without them, Winograd runs (other bits).
        x.floats[5 * 20 + 7] = 0
        x.floats[3 * 90 * 20 + 40 * 20 + 3] = 0
        x.floats[31 * 90 * 20 + 70 * 20 + 19] = 0
        let finite = try Interpreter(g).run([x])[0]
        let finiteDirect = try WinogradConvolution.$enabled.withValue(false) { try Interpreter(g).run([x])[0] }
        XCTAssertNotEqual(finite.floats, finiteDirect.floats)
    }

    /// The memory Winograd takes besides the output (its transformed kernels, 16 x m x c floats, and
    /// each worker's transformed tiles) counts against the memory limit: 256 -> 256 channels on 8x8
    /// need about 2.6 MB with the direct kernel and 7 MB with Winograd, so 4 MiB runs one and refuses
    /// the other.
    func testWinogradScratchCountsAgainstTheMemoryLimit() throws {
        guard DirectConvolution.supported else { throw XCTSkip("Winograd runs only beside the direct kernel (AVX-512)") }
        var rng = SplitMix64(seed: 26)
        let cv = ConvCase(n: 1, c: 256, m: 256, g: 1, h: 8, w: 8, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pads: [1, 1, 1, 1], bias: true)
        let x = Self.randomTensor([1, 256, 8, 8], &rng)
        let w = Self.randomTensor([256, 256, 3, 3], &rng), b = Self.randomTensor([256], &rng)
        let g = try convGraph(cv, w, b) { _, y in y }
        // float16 runs the same float kernels (rounding after each node), so its Winograd memory counts too.
        let gb = GraphBuilder(name: "conv16", parameters: ZeroParameters())
        let half = { (t: Tensor) in Tensor(shape: t.shape, floats: t.floats, dtype: .float16) }
        let x16 = gb.input("x", TensorType(.float16, [1, 256, 8, 8]))
        gb.output(try gb.op("Conv", [x16, gb.constant(half(w)), gb.constant(half(b))], cv.attributes), name: "y")
        let g16 = gb.finish()
        try MemoryLimit.$bytes.withValue(4 << 20) {
            let direct = try WinogradConvolution.$enabled.withValue(false) { try Interpreter(g).run([x])[0] }
            XCTAssertEqual(direct.shape, [1, 256, 8, 8])
            // Scratch: the padded input 256 x 10 x 10 + 64, the kernels 16 x 256 x 256, one worker's tiles
            // 16 x (256 x 16 + 16 + 256 x 16 + 16) + 16: 1,205,840 floats.
            let refusal = "interpreter: node /Conv (Conv): running the node (its outputs 65536 bytes, scratch 4823360 bytes, with 2425856 bytes live) needs 7314752 bytes (7.0 MiB), more than the memory limit of 4194304 bytes (4.0 MiB) (--memory-limit raises it)"
            XCTAssertEqual(errorText { _ = try Interpreter(g).run([x]) }, refusal)
            // (The interpreter holds float16 tensors as floats, so the figures are the same.)
            XCTAssertEqual(try WinogradConvolution.$enabled.withValue(false) { try Interpreter(g16).run([half(x)])[0] }.dtype, .float16)
            XCTAssertEqual(errorText { _ = try Interpreter(g16).run([half(x)]) }, refusal)
        }
    }

    /// Every sample model (seeded weights, 384x384, a size every sample takes) with Winograd and with the
    /// direct kernel alone: within 1e-6 of the largest output (3.8e-7 at most, on YOLOv5x and MobileViT),
    /// ten times inside the 1e-5 every fast path keeps against the plain one.
    func testWinogradKeepsEverySampleWithinTheParityTolerance() throws {
        guard DirectConvolution.supported else { throw XCTSkip("Winograd runs only beside the direct kernel (AVX-512)") }
        let samples = try FileManager.default.contentsOfDirectory(atPath: Repo.path("samples")).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertEqual(samples.count, 23)
        var rng = SplitMix64(seed: 25)
        for file in samples {
            let c = try Compiler.compile(configFile: Repo.path("samples/\(file)"), options: CompileOptions(imageHeight: 384, imageWidth: 384))
            let input = c.optimized.type(of: c.optimized.inputs[0]).shape
            let x = Tensor(shape: input, floats: (0..<input.reduce(1, *)).map { _ in rng.nextUnitFloat() })
            let fast = try Interpreter(c.optimized).run([x])
            let direct = try WinogradConvolution.$enabled.withValue(false) { try Interpreter(c.optimized).run([x]) }
            var largest: Float = 0
            for (a, d) in zip(fast, direct) {
                let scale = max(1, d.floats.map(abs).max() ?? 0)
                largest = max(largest, maxAbsDifference(a, d) / scale)
            }
            XCTAssertLessThanOrEqual(largest, 1e-6, file)
            XCTAssertGreaterThan(largest, 0, "\(file): Winograd did not run")  // every sample has a 3x3 Conv of 32+ channels
        }
    }

    /// The direct kernel starts its tiles where the input's first tap reaches a 64-byte line (a 1x1
    /// convolution reads its input tensor wherever it lies): the same bits, the multiply-add chain over
    /// the taps, whatever the input's address, for each of the 16 float offsets in a line; rows split
    /// into blocks at odd rows and a last block ending mid-tile.
    func testDirectKernelTilesFollowTheInputsAlignment() throws {
        guard DirectConvolution.supported else { throw XCTSkip("the direct kernel runs where the CPU has AVX-512") }
        var rng = SplitMix64(seed: 27)
        let (m, k, oh, ow) = (21, 37, 9, 40), plane = oh * ow
        let x = (0..<(k * plane)).map { _ in rng.nextUnitFloat() * 4 - 2 }, w = (0..<(m * k)).map { _ in rng.nextUnitFloat() - 0.5 }
        var want = [Float](repeating: 0, count: m * plane)
        for o in 0..<m { for q in 0..<plane {
            var acc: Float = 0
            for p in 0..<k { acc = acc.addingProduct(w[o * k + p], x[p * plane + q]) }
            want[o * plane + q] = acc
        } }
        let offsets = (0..<k).map { $0 * plane }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: (k * plane + 16) * 4, alignment: 64)
        defer { buffer.deallocate() }
        let base = buffer.bindMemory(to: Float.self, capacity: k * plane + 16)
        for skew in 0..<16 {
            (base + skew).update(from: x, count: x.count)
            var y = [Float](repeating: .nan, count: m * plane)
            var pass = yc_output_pass(bias: nil, act: YC_IDENTITY, alpha: 0, beta: 0, gamma: 0)
            w.withUnsafeBufferPointer { wb in offsets.withUnsafeBufferPointer { ob in y.withUnsafeMutableBufferPointer { yb in
                for (r0, r1) in [(0, 3), (3, 8), (8, 9)] {
                    yc_conv_rows(wb.baseAddress!, m, k, ob.baseAddress!, base + skew, ow, ow, plane, r0, r1, yb.baseAddress!, &pass)
                }
            } } }
            assertSameBits(Tensor(shape: [m, oh, ow], floats: y), Tensor(shape: [m, oh, ow], floats: want), "input \(skew) floats past a line")
        }
    }

    /// The activations the interpreter fuses, each as the graph spells it.
    nonisolated(unsafe) static let activations: [(name: String, label: String, build: (GraphBuilder, ValueID) throws -> ValueID)] = [
        ("Relu", "Conv+Relu", { b, c in try b.op("Relu", [c]) }),
        ("LeakyRelu", "Conv+LeakyRelu", { b, c in try b.op("LeakyRelu", [c], ["alpha": .float(0.1)]) }),
        ("Sigmoid", "Conv+Sigmoid", { b, c in try b.op("Sigmoid", [c]) }),
        ("Mul(c, Sigmoid(c))", "Conv+SiLU", { b, c in try b.op("Mul", [c, try b.op("Sigmoid", [c])]) }),
        ("Mul(Sigmoid(c), c)", "Conv+SiLU", { b, c in let s = try b.op("Sigmoid", [c]); return try b.op("Mul", [s, c]) }),
        ("HardSwish", "Conv+HardSwish", { b, c in try b.op("HardSwish", [c]) }),
        ("Mul(c, HardSigmoid(c))", "Conv+HardSigmoid*x", { b, c in
            try b.op("Mul", [c, try b.op("HardSigmoid", [c], ["alpha": .float(1.0 / 6), "beta": .float(0.5)])])
        }),
        ("Clip(c, 0, 6)", "Conv+Clip", { b, c in try b.op("Clip", [c, b.constant(scalar: 0), b.constant(scalar: 6)]) }),
        ("Clip(c, -, 1)", "Conv+Clip", { b, c in try b.op("Clip", [c, nil, b.constant(scalar: 1)]) }),
    ]

    /// Bit for bit, NaN for NaN.
    func assertSameBits(_ a: Tensor, _ b: Tensor, _ message: String) {
        XCTAssertEqual(a.shape, b.shape, message)
        let differ = zip(a.floats, b.floats).enumerated().first { !($1.0.bitPattern == $1.1.bitPattern || ($1.0.isNaN && $1.1.isNaN)) }?.offset
        XCTAssertNil(differ, "\(message): element \(differ ?? -1) differs")
    }

    /// One `op` node over `x` in float32 (the fast path) and over the same values in float64 (the
    /// general loop, whose comparisons and sums are exact or in double): the float32 result must be the
    /// float64 one rounded, bit for bit.
    func assertFloat32MatchesFloat64(_ op: String, _ x: Tensor, _ attributes: [String: Attribute] = [:], _ message: String) throws {
        func run(_ dtype: DType) throws -> Tensor {
            let gb = GraphBuilder(name: op, parameters: ZeroParameters())
            let xi = gb.input("x", TensorType(dtype, x.shape))
            gb.output(try gb.op(op, [xi], attributes), name: "y")
            let input = dtype == .float32 ? x : Tensor(shape: x.shape, doubles: x.floats.map(Double.init))
            return try KernelThreads.$count.withValue(2) { try Interpreter(gb.finish()).run([input])[0] }
        }
        let general = try run(.float64)
        assertSameBits(try run(.float32), Tensor(shape: general.shape, floats: general.doubles.map(Float.init)), "\(op) \(message)")
    }

    func testFusedActivationsGiveTheUnfusedBits() throws {
        var rng = SplitMix64(seed: 16)
        // The random cases, then, for every activation, output channels in several passes of the direct
        // kernel (37 over 16 at a time) and a product deep enough for passes over its taps (630 taps).
        let wide = [ConvCase(n: 1, c: 3, m: 37, g: 1, h: 9, w: 50, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pads: [1, 1, 1, 1], bias: true),
                    ConvCase(n: 1, c: 70, m: 20, g: 1, h: 6, w: 11, kh: 3, kw: 3, sh: 2, sw: 1, dh: 1, dw: 1, pads: [1, 0, 1, 2], bias: true)]
        let cases = Self.randomCases(Self.activations.count * 3, seed: 1616)
            + Self.activations.indices.flatMap { _ in wide }
        for (i, cv) in cases.enumerated() {
            let act = Self.activations[i % Self.activations.count]
            var x = Self.randomTensor([cv.n, cv.c, cv.h, cv.w], &rng)
            // Values at the activations' edges: large of both signs, zeros, and a NaN.
            for (j, v) in [Float(90), -90, 0, -0.0, 3, -3, .nan].enumerated() where j < x.count { x.floats[(j * 7919) % x.count] = v }
            let w = Self.randomTensor([cv.m, cv.c / cv.g, cv.kh, cv.kw], &rng)
            let b = cv.bias ? Self.randomTensor([cv.m], &rng) : nil
            let g = try convGraph(cv, w, b, activation: act.build)
            var labels: [String] = []
            let fused = try KernelThreads.$count.withValue(2) { try Interpreter(g).run([x]) { labels.append($0.op) }[0] }
            let plain = try KernelThreads.$count.withValue(1) { try Interpreter(g, fusing: false).run([x])[0] }
            XCTAssertEqual(labels, [act.label], "\(act.name): \(cv)")
            assertSameBits(fused, plain, "\(act.name): \(cv)")
        }
    }

    /// Erf (yc_erf, which GELU's output pass also uses) against erf in double over every 251st float
    /// of magnitude up to 6 and both signs: within 1.4 ulp (libm's erff is within 1); exact at 0, at
    /// +-infinity (+-1) and past 3.92 (+-1), sign-symmetric, NaN kept.
    func testErfIsWithinOneAndAHalfUlpsOfTheExactValue() throws {
        var xs: [Float] = []
        var bits: UInt32 = 0
        while Float(bitPattern: bits) <= 6 { xs.append(Float(bitPattern: bits)); bits += 251 }
        xs += [.infinity, 3.92, 4, 1e-30, .leastNonzeroMagnitude, 0.9, Float(0.9).nextDown, 3.95, Float(3.95).nextDown]
        xs += xs.map { -$0 }
        func erf(_ x: [Float]) throws -> [Float] {
            let gb = GraphBuilder(name: "erf", parameters: ZeroParameters())
            gb.output(try gb.op("Erf", [gb.input("x", TensorType(.float32, [x.count]))]), name: "y")
            return try Interpreter(gb.finish()).run([Tensor(shape: [x.count], floats: x)])[0].floats
        }
        let y = try erf(xs)
        var worst = 0.0
        for (x, v) in zip(xs, y) {
            let exact = Foundation.erf(Double(x)), rounded = Float(exact)
            let ulp = Double(rounded.magnitude.nextUp) - Double(rounded.magnitude)
            worst = max(worst, abs(Double(v) - exact) / ulp)
            XCTAssertEqual(v.sign, x.sign, "erf(\(x))")
        }
        XCTAssertLessThanOrEqual(worst, 1.4)
        XCTAssertGreaterThan(worst, 1.0)  // the sweep reaches the worst region (1.34 ulp near 0.99 on a denser sweep)
        let special: [Float] = [0, -0.0, .infinity, -.infinity, 4, -4, .nan]
        let out = try erf(special)
        XCTAssertEqual(out[0].bitPattern, Float(0).bitPattern)
        XCTAssertEqual(out[1].bitPattern, Float(-0.0).bitPattern)
        XCTAssertEqual(Array(out[2..<6]), [1, -1, 1, -1])
        XCTAssertTrue(out[6].isNaN)
    }

    func testNothingFusesWhenAnIntermediateIsUsedElsewhere() throws {
        let cv = ConvCase(n: 1, c: 2, m: 3, g: 1, h: 5, w: 5, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pads: [1, 1, 1, 1], bias: true)
        var rng = SplitMix64(seed: 17)
        let x = Self.randomTensor([1, 2, 5, 5], &rng), w = Self.randomTensor([3, 2, 3, 3], &rng), b = Self.randomTensor([3], &rng)
        func labels(_ g: Graph) throws -> [String] {
            var ops: [String] = []
            _ = try Interpreter(g).run([x]) { ops.append($0.op) }
            return ops
        }
        // The convolution's output is also a graph output.
        let gb = GraphBuilder(name: "conv", parameters: ZeroParameters())
        let xi = gb.input("x", TensorType(.float32, [1, 2, 5, 5]))
        let c = try gb.op("Conv", [xi, gb.constant(w), gb.constant(b)], cv.attributes)
        gb.output(try gb.op("Relu", [c]), name: "y")
        gb.output(c, name: "c")
        XCTAssertEqual(try labels(gb.finish()), ["Conv", "Relu"])
        // The sigmoid's output has a second use.
        XCTAssertEqual(try labels(try convGraph(cv, w, b) { g, c in
            let s = try g.op("Sigmoid", [c])
            return try g.op("Add", [try g.op("Mul", [c, s]), s])
        }), ["Conv", "Sigmoid", "Mul", "Add"])
        // Mul of the convolution by something other than its gate.
        XCTAssertEqual(try labels(try convGraph(cv, w, b) { g, c in
            _ = try g.op("Sigmoid", [c])
            return try g.op("Mul", [c, c])
        }).filter { $0 != "Sigmoid" }, ["Conv", "Mul"])
        // Clip with a bound that is computed, not a constant.
        XCTAssertEqual(try labels(try convGraph(cv, w, b) { g, c in
            let hi = try g.op("ReduceMax", [c], ["keepdims": .int(0)])
            return try g.op("Clip", [c, g.constant(scalar: 0), hi])
        }), ["Conv", "ReduceMax", "Clip"])
    }

    /// A float32 Transpose that moves the contiguous axis runs as blocked 2-D transposes; the general
    /// strided copy (here on the same values in float64) must give the same elements.
    func testBlockedTransposeMatchesTheStridedCopy() throws {
        var rng = SplitMix64(seed: 24)
        for (shape, perm) in [([1, 3, 85, 80, 80], [0, 1, 3, 4, 2]), ([2, 37, 19], [0, 2, 1]), ([5, 1, 33, 17], [3, 1, 0, 2]),
                              ([4, 6, 7, 3], [2, 3, 0, 1]), ([17, 18], [1, 0])] {
            try assertFloat32MatchesFloat64("Transpose", Self.randomTensor(shape, &rng), ["perm": .ints(perm)], "\(shape) \(perm)")
        }
    }

    /// LayerNormalization writes over its input when handed over, four rows at a time: the same bits
    /// as when the input must stay (a graph output), and within 1e-6 of the same graph in float64.
    func testLayerNormOverItsHandedOverInput() throws {
        var rng = SplitMix64(seed: 25)
        for shape in [[1, 7, 96], [2, 3, 5, 33], [1, 1, 1]] {
            let x = Self.randomTensor(shape, &rng), scale = Self.randomTensor([shape.last!], &rng), bias = Self.randomTensor([shape.last!], &rng)
            func run(_ dtype: DType, keepInput: Bool) throws -> Tensor {
                let gb = GraphBuilder(name: "ln", parameters: ZeroParameters())
                let xi = gb.input("x", TensorType(dtype, shape))
                func constant(_ t: Tensor) -> ValueID { gb.constant(dtype == .float32 ? t : Tensor(shape: t.shape, doubles: t.floats.map(Double.init))) }
                let shifted = try gb.op("Add", [xi, constant(Tensor(shape: [1], floats: [0.5]))])
                gb.output(try gb.op("LayerNormalization", [shifted, constant(scale), constant(bias)], ["axis": .int(-1)]), name: "y")
                if keepInput { gb.output(shifted, name: "shifted") }
                let input = dtype == .float32 ? x : Tensor(shape: shape, doubles: x.floats.map(Double.init))
                return try KernelThreads.$count.withValue(2) { try Interpreter(gb.finish()).run([input])[0] }
            }
            let over = try run(.float32, keepInput: false)
            assertSameBits(over, try run(.float32, keepInput: true), "\(shape)")
            let wide = try run(.float64, keepInput: false)
            let err = zip(over.floats, wide.doubles).map { abs(Double($0) - $1) }.max() ?? .nan
            XCTAssertLessThanOrEqual(err, 1e-5, "\(shape)")
        }
    }

    /// Softmax's row maximum runs over sixteen lanes: rows of every length around the lanes' edges
    /// agree with softmax in double, and a NaN anywhere (or an infinity) makes the whole row NaN, as the
    /// one-lane maximum does.
    func testSoftmaxRowsAgreeWithDoubleAndSpreadNaN() throws {
        var rng = SplitMix64(seed: 23)
        for n in [1, 15, 16, 17, 31, 32, 33, 47, 48, 100] {
            for special in [Float?.none, .nan, .infinity, -0.0] {
                var x = Self.randomTensor([3, n], &rng)
                x.floats = x.floats.map { $0 * 20 }
                if let v = special { for r in 0..<3 { x.floats[r * n + Int(rng.next() % UInt64(n))] = v } }
                let gb = GraphBuilder(name: "softmax", parameters: ZeroParameters())
                let xi = gb.input("x", TensorType(.float32, [3, n]))
                gb.output(try gb.op("Softmax", [xi], ["axis": .int(-1)]), name: "y")
                let y = try Interpreter(gb.finish()).run([x])[0]
                for r in 0..<3 {
                    let row = x.floats[(r * n)..<((r + 1) * n)].map(Double.init), got = y.floats[(r * n)..<((r + 1) * n)]
                    if row.contains(where: { $0.isNaN || $0.isInfinite }) {
                        XCTAssertTrue(got.allSatisfy(\.isNaN), "n \(n), \(String(describing: special))")
                        continue
                    }
                    let m = row.max()!, e = row.map { Foundation.exp($0 - m) }, sum = e.reduce(0, +)
                    let err = zip(got, e).map { abs(Double($0) - $1 / sum) }.max() ?? 0
                    XCTAssertLessThanOrEqual(err, 1e-6, "n \(n), \(String(describing: special))")
                }
            }
        }
    }

    /// Float32 GlobalAveragePool sums four planes at a time across threads, each in order in double:
    /// the same bits as the general loop on the same values in float64, rounded once.
    func testGlobalAveragePoolMatchesTheGeneralLoop() throws {
        var rng = SplitMix64(seed: 26)
        for shape in [[2, 7, 5, 9], [1, 4, 1, 1], [1, 3, 33, 17], [3, 130, 4, 4]] {
            try assertFloat32MatchesFloat64("GlobalAveragePool", Self.randomTensor(shape, &rng), [:], "\(shape)")
        }
    }

    /// MatMul -> Softmax -> MatMul runs as one kernel over blocks of query rows: within 1e-6 of the
    /// largest output of the three nodes run one by one (OpenBLAS may sum a block's products in another
    /// order than the whole matrix's), with batch axes broadcast (a shared k, v per head), blocks that
    /// do not divide the rows, and nothing fused when the scores have another use.
    func testAttentionFusesToTheUnfusedBits() throws {
        var rng = SplitMix64(seed: 22)
        for (q, k, v) in [([1, 4, 2, 300, 16], [1, 4, 2, 16, 300], [1, 4, 2, 300, 24]), ([3, 70, 9], [9, 1100], [3, 1100, 5]),
                          ([2, 1, 5, 7], [2, 3, 7, 5], [1, 3, 5, 11])] {
            let (qt, kt, vt) = (Self.randomTensor(q, &rng), Self.randomTensor(k, &rng), Self.randomTensor(v, &rng))
            func graph(keepScores: Bool) throws -> Graph {
                let gb = GraphBuilder(name: "attention", parameters: ZeroParameters())
                let qi = gb.input("q", TensorType(.float32, q)), ki = gb.input("k", TensorType(.float32, k))
                let vi = gb.input("v", TensorType(.float32, v))
                let scores = try gb.op("MatMul", [qi, ki])
                gb.output(try gb.op("MatMul", [try gb.op("Softmax", [scores], ["axis": .int(-1)]), vi]), name: "o")
                if keepScores { gb.output(scores, name: "scores") }
                return gb.finish()
            }
            var labels: [String] = []
            let fused = try KernelThreads.$count.withValue(2) { try Interpreter(graph(keepScores: false)).run([qt, kt, vt]) { labels.append($0.op) } }
            XCTAssertEqual(labels, ["MatMul+Softmax+MatMul"], "\(q) \(k) \(v)")
            let plain = try KernelThreads.$count.withValue(1) { try Interpreter(graph(keepScores: false), fusing: false).run([qt, kt, vt]) }
            XCTAssertEqual(fused[0].shape, plain[0].shape)
            let scale = plain[0].floats.map(abs).max() ?? 1
            let err = zip(fused[0].floats, plain[0].floats).map { abs($0 - $1) }.max() ?? .nan
            XCTAssertLessThanOrEqual(err / scale, 1e-6, "attention \(q) \(k) \(v)")
            labels = []
            _ = try Interpreter(graph(keepScores: true)).run([qt, kt, vt]) { labels.append($0.op) }
            XCTAssertEqual(labels, ["MatMul", "Softmax", "MatMul"])
        }
    }

    /// 2-D float32 MaxPool runs separably in C (at stride 1 flat over the padded plane); the general
    /// N-D loop (here on the same values in float64) is the reference, bit for bit: ties between 0 and
    /// -0 keep the first in the window.
    func testSeparableMaxPoolMatchesTheGeneralLoop() throws {
        var rng = SplitMix64(seed: 21)
        func pick(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(rng.next() % UInt64(r.count)) }
        var checked = 0
        while checked < 60 {
            // The first 20 at stride 1 and no dilation, which run flat over the padded plane (SPPF's pools).
            let unit = checked < 20
            let (kh, kw) = (pick(1...5), pick(1...5))
            let (sh, sw) = unit ? (1, 1) : (pick(1...3), pick(1...3)), (dh, dw) = unit ? (1, 1) : (pick(1...2), pick(1...2))
            let pads = [pick(0...(kh - 1) / 2), pick(0...(kw - 1) / 2), pick(0...(kh - 1) / 2), pick(0...(kw - 1) / 2)]
            let shape = [pick(1...2), pick(1...5), pick(1...23), pick(1...29)]
            guard shape[2] + pads[0] + pads[2] >= dh * (kh - 1) + 1, shape[3] + pads[1] + pads[3] >= dw * (kw - 1) + 1 else { continue }
            // Exact values (zeros of both signs, ties) half the time, so that ties decide.
            let values: [Float] = (0..<shape.reduce(1, *)).map { _ in
                let v: Float = [0, -0.0, 1, -1, .infinity][pick(0...4)]
                return pick(0...1) == 0 ? v : v + rng.nextUnitFloat()
            }
            let attributes: [String: Attribute] = ["kernel_shape": .ints([kh, kw]), "strides": .ints([sh, sw]), "dilations": .ints([dh, dw]),
                                                   "pads": .ints(pads)]
            try assertFloat32MatchesFloat64("MaxPool", Tensor(shape: shape, floats: values), attributes,
                                            "kernel (\(kh),\(kw)) strides (\(sh),\(sw)) dilations (\(dh),\(dw)) pads \(pads) input \(shape)")
            checked += 1
        }
    }

    func testThreadedMatMulAndElementwiseGiveTheSameBits() throws {
        var rng = SplitMix64(seed: 18)
        for (shapeA, shapeB) in [([1, 4, 197, 64], [1, 4, 64, 197]), ([3, 33, 130], [130, 257]), ([1, 700, 5], [5, 300])] {
            let a = Self.randomTensor(shapeA, &rng), b = Self.randomTensor(shapeB, &rng)
            let gb = GraphBuilder(name: "mm", parameters: ZeroParameters())
            let ai = gb.input("a", TensorType(.float32, shapeA)), bi = gb.input("b", TensorType(.float32, shapeB))
            let p = try gb.op("MatMul", [ai, bi])
            gb.output(p, name: "p")
            gb.output(try gb.op("Mul", [p, try gb.op("Sigmoid", [p])]), name: "q")
            let g = gb.finish()
            let one = try KernelThreads.$count.withValue(1) { try Interpreter(g).run([a, b]) }
            let three = try KernelThreads.$count.withValue(3) { try Interpreter(g).run([a, b]) }
            for (u, v) in zip(one, three) { assertSameBits(u, v, "MatMul \(shapeA) x \(shapeB)") }
        }
    }

    /// Softmax writes over its input when the interpreter hands it over (the input's last use), and
    /// computes the same bits as when the input must stay (here: also a graph output).
    func testSoftmaxOverItsHandedOverInputGivesTheSameBits() throws {
        var rng = SplitMix64(seed: 19)
        let a = Self.randomTensor([2, 3, 37, 16], &rng), b = Self.randomTensor([2, 3, 16, 37], &rng)
        func graph(keepScores: Bool) throws -> Graph {
            let gb = GraphBuilder(name: "attention", parameters: ZeroParameters())
            let ai = gb.input("a", TensorType(.float32, a.shape)), bi = gb.input("b", TensorType(.float32, b.shape))
            let scores = try gb.op("MatMul", [ai, bi])
            gb.output(try gb.op("Softmax", [scores], ["axis": .int(-1)]), name: "p")
            if keepScores { gb.output(scores, name: "scores") }
            return gb.finish()
        }
        let over = try Interpreter(graph(keepScores: false)).run([a, b])
        let kept = try Interpreter(graph(keepScores: true)).run([a, b])
        assertSameBits(over[0], kept[0], "Softmax over its input")
        // The kept scores are the product, not the softmax written over it.
        XCTAssertGreaterThan(kept[1].floats.map(abs).max() ?? 0, 1.5)
        XCTAssertEqual(over[0].floats[0..<37].reduce(0, +), 1, accuracy: 1e-5)
    }

    /// A Linear layer with ConvNeXt's GELU (MatMul, bias Add, Div, Erf, Add, Mul, Mul) runs as one
    /// kernel and gives the bits of the seven nodes run one by one; with the bias's Add reading the
    /// product second, and with a constant other than 0.5, the same.
    func testMatMulBiasAndGeluFuseToTheUnfusedBits() throws {
        var rng = SplitMix64(seed: 20)
        for (shape, k, n, half, biasFirst) in [([1, 7, 9, 13], 13, 31, Float(0.5), false), ([2, 65, 48], 48, 96, Float(0.25), true)] {
            var x = Self.randomTensor(shape, &rng)
            x.floats[3] = .nan
            let w = Self.randomTensor([k, n], &rng), bias = Self.randomTensor([n], &rng)
            let gb = GraphBuilder(name: "linear", parameters: ZeroParameters())
            let xi = gb.input("x", TensorType(.float32, shape))
            let m = try gb.op("MatMul", [xi, gb.constant(w)])
            let a = try gb.op("Add", biasFirst ? [gb.constant(bias), m] : [m, gb.constant(bias)])
            let e = try gb.op("Erf", [try gb.op("Div", [a, gb.constant(scalar: 1.4142135)])])
            let q = try gb.op("Mul", [a, try gb.op("Add", [e, gb.constant(scalar: 1)])])
            gb.output(try gb.op("Mul", [q, gb.constant(scalar: half)]), name: "y")
            let g = gb.finish()
            var labels: [String] = []
            let fused = try KernelThreads.$count.withValue(2) { try Interpreter(g).run([x]) { labels.append($0.op) }[0] }
            let plain = try KernelThreads.$count.withValue(1) { try Interpreter(g, fusing: false).run([x])[0] }
            XCTAssertEqual(labels, ["MatMul+Add+GELU"])
            assertSameBits(fused, plain, "MatMul+Add+GELU \(shape) x [\(k), \(n)]")
        }
    }
}
