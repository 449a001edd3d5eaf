import Foundation
import XCTest
import YoloCompile

/// The rest of YOLOv5 v7.0's parse_model: each module's parameter count and output shape against the
/// formula its PyTorch code gives (a YOLOv5 Conv(c1, c2, k) holds c1 * c2 * k^2 / g weights and a
/// 2 * c2 BatchNorm), on a 1x3x64x64 image whose first row is Conv(3, c1, 1) at stride 1.
final class YOLOv5ModuleTests: XCTestCase {
    /// Compiles `Conv [c1, 1, 1]` followed by `rows`; returns the layers after the first.
    func layers(c1: Int, _ rows: String..., file: String = "module") throws -> [LayerInfo] {
        let yaml = """
        nc: 1
        anchors: 1
        backbone:
          [[-1, 1, Conv, [\(c1), 1, 1]],
        \(rows.map { "   " + $0 + "," }.joined(separator: "\n"))
          ]
        head: []
        """
        let path = temporaryFile(file + ".yaml", contents: yaml)
        let c = try Compiler.compile(configFile: path, options: CompileOptions(imageHeight: 64, imageWidth: 64))
        return Array(c.lowered.layers.dropFirst())
    }

    func check(_ l: LayerInfo, params: Int, shape: [Int], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(l.parameters, params, l.module, file: file, line: line)
        XCTAssertEqual(l.outputShape, shape, l.module, file: file, line: line)
    }

    func testGhostFamily() throws {
        let l = try layers(c1: 32, "[-1, 1, GhostConv, [64, 3, 2]]", "[-1, 1, GhostBottleneck, [64, 3, 1]]",
                           "[-1, 1, GhostBottleneck, [128, 3, 2]]", "[-1, 2, C3Ghost, [128]]", file: "ghost")
        // GhostConv(32, 64, 3, 2): cv1 Conv(32, 32, 3) 9,216 + 64; cv2 Conv(32, 32, 5, g=32) 800 + 64.
        check(l[0], params: 9_280 + 864, shape: [1, 64, 32, 32])
        // GhostBottleneck(64, 64, 3, 1): GhostConv(64, 32) = (64*16 + 32) + (16*25 + 32) = 1,488,
        // GhostConv(32, 64, act=False) = (32*32 + 64) + (32*25 + 64) = 1,952; identity shortcut.
        check(l[1], params: 1_488 + 1_952, shape: [1, 64, 32, 32])
        // GhostBottleneck(64, 128, 3, 2): GhostConv(64, 64) = (64*32 + 64) + (32*25 + 64) = 2,976,
        // DWConv(64, 64, 3, 2) = 576 + 128, GhostConv(64, 128) = (64*64 + 128) + (64*25 + 128) = 5,952,
        // shortcut DWConv(64, 64, 3, 2) 704 and Conv(64, 128, 1) = 8,192 + 256.
        check(l[2], params: 2_976 + 704 + 5_952 + 704 + 8_448, shape: [1, 128, 16, 16])
        // C3Ghost(128, 128, n=2): c_ = 64; cv1, cv2 Conv(128, 64) 8,320 each; cv3 Conv(128, 128) 16,640;
        // each GhostBottleneck(64, 64) = GhostConv(64, 32) 1,488 + GhostConv(32, 64) 1,952.
        check(l[3], params: 2 * 8_320 + 16_640 + 2 * (1_488 + 1_952), shape: [1, 128, 16, 16])
        XCTAssertEqual(l[3].arguments.map(\.description), ["128", "128", "2"])
    }

    func testCrossConvAndC3x() throws {
        let l = try layers(c1: 64, "[-1, 1, CrossConv, [64, 3, 1, 1, 1.0, True]]", "[-1, 1, CrossConv, [32, 3, 2]]",
                           "[-1, 2, C3x, [64]]", file: "crossconv")
        // CrossConv(64, 64): Conv(64, 64, (1, 3)) and Conv(64, 64, (3, 1)), 12,288 + 128 each.
        check(l[0], params: 2 * 12_416, shape: [1, 64, 64, 64])
        // Stride 2 as (1, 2) then (2, 1): Conv(64, 32, (1, 3)) 6,144 + 64, Conv(32, 32, (3, 1)) 3,072 + 64.
        check(l[1], params: 6_208 + 3_136, shape: [1, 32, 32, 32])
        // C3x(32, 64, n=2): c_ = 32; cv1, cv2 Conv(32, 32) 1,088 each; cv3 Conv(64, 64) 4,224;
        // CrossConv(32, 32) x 2 = 2 * 2 * (3,072 + 64).
        check(l[2], params: 2 * 1_088 + 4_224 + 4 * 3_136, shape: [1, 64, 32, 32])
    }

    func testC3TRIsC3AroundATransformerBlock() throws {
        let l = try layers(c1: 64, "[-1, 2, C3TR, [128]]", file: "c3tr")
        // C3TR(64, 128, n=2): c_ = 64; cv1, cv2 Conv(64, 64) 4,224 each; cv3 Conv(128, 128) 16,640;
        // TransformerBlock(64, 64, 4 heads, 2 layers): linear 64*64 + 64, and per TransformerLayer q, k, v,
        // fc1, fc2 (5c^2) plus MultiheadAttention in_proj (3c^2 + 3c) and out_proj (c^2 + c): 9c^2 + 4c.
        let layer = 9 * 64 * 64 + 4 * 64
        check(l[0], params: 2 * 4_224 + 16_640 + 4_160 + 2 * layer, shape: [1, 128, 64, 64])
        XCTAssertEqual(errorText { _ = try self.layers(c1: 64, "[-1, 1, C3TR, [40, True, 1, 0.35]]", file: "c3tr-heads") }?.components(separatedBy: ": layer 1: ").last,
                       "C3TR: its TransformerBlock has 4 heads, so the hidden channels c2 * e = 14 must be a multiple of 4")
    }

    func testC3TRParameterNamesAreYOLOv5s() throws {
        // YOLOv5's state_dict keys for C3TR(64, 128, n=1) at model.1 (num_batches_tracked aside): C3's cv1-3,
        // then m = TransformerBlock (no conv, since c1 == c2), its linear, and tr.0 = TransformerLayer.
        let yaml = "nc: 1\nanchors: 1\nbackbone:\n  [[-1, 1, Conv, [64, 1, 1]],\n   [-1, 1, C3TR, [128]]]\nhead: []\n"
        let c = try Compiler.compile(configFile: temporaryFile("c3tr-names.yaml", contents: yaml), options: CompileOptions(imageHeight: 32, imageWidth: 32))
        let g = c.lowered.graph
        let names = g.orderedConstants.map { g.name(of: $0.0) }.filter { $0.hasPrefix("model.1.") }
        let bn = ["weight", "bias", "running_mean", "running_var"]
        let expected = ["cv1", "cv2", "cv3"].flatMap { cv in ["\(cv).conv.weight"] + bn.map { "\(cv).bn.\($0)" } }
            + ["m.linear.weight", "m.linear.bias"]
            + ["q.weight", "k.weight", "v.weight", "ma.in_proj_weight", "ma.in_proj_bias", "ma.out_proj.weight",
               "ma.out_proj.bias", "fc1.weight", "fc2.weight"].map { "m.tr.0." + $0 }
        XCTAssertEqual(Set(names), Set(expected.map { "model.1." + $0 }))
        XCTAssertEqual(names.count, expected.count)
    }

    func testC3SPPAndMixConv2d() throws {
        let l = try layers(c1: 64, "[-1, 1, C3SPP, [128, [5, 9, 13]]]", "[-1, 1, MixConv2d, [96, [1, 3, 5], 2]]",
                           "[-1, 1, MixConv2d, [96, [3, 5], 1, False]]", file: "c3spp")
        // C3SPP(64, 128): c_ = 64; cv1, cv2 Conv(64, 64) 4,224 each; cv3 Conv(128, 128) 16,640;
        // SPP(64, 64): cv1 Conv(64, 32) 2,112, cv2 Conv(4 * 32, 64) 8,320.
        check(l[0], params: 2 * 4_224 + 16_640 + 2_112 + 8_320, shape: [1, 128, 64, 64])
        // MixConv2d(128, 96, (1, 3, 5), 2): equal_ch splits 96 as 32/32/32; each Conv2d has groups
        // gcd(128, 32) = 32, so 32 * 4 * k^2 weights: 128 + 1,152 + 3,200; BatchNorm2d(96) 192.
        check(l[1], params: 128 + 1_152 + 3_200 + 192, shape: [1, 96, 32, 32])
        // equal_ch=False: shares in proportion to 1/k^2: 96 * (1/9) / (1/9 + 1/25) = 70.6 -> 71, and 25;
        // groups gcd(96, 71) = gcd(96, 25) = 1: 71 * 96 * 9 + 25 * 96 * 25, BatchNorm 192.
        check(l[2], params: 61_344 + 60_000 + 192, shape: [1, 96, 32, 32])
    }

    func testMixConv2dBatchNormFoldsIntoItsConvs() throws {
        let yaml = "nc: 1\nanchors: 1\nbackbone:\n  [[-1, 1, Conv, [16, 1, 1]],\n   [-1, 1, MixConv2d, [32, [1, 3, 5], 2]],\n   [-1, 1, MixConv2d, [32, [3, 5]]]]\nhead: []\n"
        let c = try Compiler.compile(configFile: temporaryFile("mixconv-fold.yaml", contents: yaml), options: CompileOptions(imageHeight: 64, imageWidth: 64))
        XCTAssertEqual(c.reports.first { $0.pass == "split-batchnorm-over-concat" }?.changes.count, 2)
        XCTAssertEqual(c.reports.first { $0.pass == "replace-batchnorm" }?.changes, [])
        // Each MixConv2d's BatchNorm2d(32) (64 parameters) becomes 32 conv biases: 64 - 2 * 32 fewer in all.
        XCTAssertEqual(c.optimized.constantElementCount(kinds: [.parameter]),
                       c.lowered.pytorchParameters - 16 /* the Conv's BN: 2c -> c */ - 2 * 32)
        XCTAssertEqual(c.lowered.layers[1].arguments.map(\.description), ["16", "32", "[1, 3, 5]", "2"])
    }

    func testMixConv2dChannelSharesFollowPyTorch() throws {
        // torch.linspace(0, 3 - 1e-6, 16) in float32: index 5 is 0.9999997, so floor() gives six 0s, then
        // five 1s and five 2s: shares 6, 5, 5. Groups gcd(8, 6) = 2 and gcd(8, 5) = 1:
        // 6 * 4 * 1 + 5 * 8 * 9 + 5 * 8 * 25 weights, BatchNorm2d(16) 32.
        let l = try layers(c1: 8, "[-1, 1, MixConv2d, [16, [1, 3, 5]]]", file: "mixconv-shares")
        check(l[0], params: 24 + 360 + 1_000 + 32, shape: [1, 16, 64, 64])
        XCTAssertEqual(errorText { _ = try self.layers(c1: 8, "[-1, 1, MixConv2d, [96, [3, 5, 7], 1, False]]", file: "mixconv-bad") }?
            .components(separatedBy: ": layer 1: ").last,
                       "MixConv2d: splits 96 output channels over kernels [3, 5, 7] as [62, 22, 11]; every kernel needs at least 1 and they must add up to 96")
    }

    func testTransposedConvolutionsContractAndExpand() throws {
        let l = try layers(c1: 64, "[-1, 1, nn.ConvTranspose2d, [32, 2, 2]]", "[-1, 1, DWConvTranspose2d, [32, 4, 2, 1, 0]]",
                           "[-1, 1, Contract, [2]]", "[-1, 1, Expand, [4]]", file: "transposed")
        // nn.ConvTranspose2d(64, 32, 2, 2): weight (64, 32, 2, 2), bias 32; (64 - 1) * 2 + 2 = 128.
        check(l[0], params: 8_192 + 32, shape: [1, 32, 128, 128])
        // DWConvTranspose2d(32, 32, 4, 2, 1, 0): groups 32, weight (32, 1, 4, 4), bias; (128 - 1) * 2 - 2 + 4 = 256.
        check(l[1], params: 512 + 32, shape: [1, 32, 256, 256])
        check(l[2], params: 0, shape: [1, 128, 128, 128])   // Contract(2): c * 4, h / 2
        check(l[3], params: 0, shape: [1, 8, 512, 512])     // Expand(4): c / 16, h * 4
    }

    func testModuleArgumentErrors() {
        func message(_ row: String, c1: Int = 64, _ name: String) -> String? {
            errorText { _ = try self.layers(c1: c1, row, file: name) }?.components(separatedBy: ": layer 1: ").last
        }
        XCTAssertEqual(message("[-1, 1, GhostBottleneck, [128, 3, 1]]", "ghost-bad"),
                       "GhostBottleneck: with stride 1 the shortcut is the identity, so input channels 64 must equal output channels 128")
        XCTAssertEqual(message("[-1, 1, Expand, [3]]", "expand-bad"), "Expand: input channels 64 must be a multiple of gain^2 = 9")
        XCTAssertEqual(message("[-1, 1, Contract, [3]]", "contract-bad"), "Contract: the 64x64 feature map does not divide by gain 3")
        XCTAssertEqual(message("[-1, 1, nn.ConvTranspose2d, [32, 2, 2, 0, 2]]", "convt-bad"),
                       "nn.ConvTranspose2d: output_padding 2 must be smaller than stride 2 or dilation 1")
        XCTAssertEqual(message("[-1, 2, GhostBottleneck, [128, 3, 2]]", "ghost-twice"),
                       "GhostBottleneck is repeated 2 times as copies built alike, so copy 2 would receive the 128 channels copy 1 makes where it expects 64; repeat it only where input and output channels are equal")
        XCTAssertEqual(message("[-1, 1, CrossConv, [64, 3, 2, 1, 1.0, True]]", "crossconv-stride"),
                       "CrossConv: the shortcut adds x to cv2(cv1(x)), so it needs stride 1, got 2 (PyTorch fails here too)")
        XCTAssertEqual(message("[-1, 1, MixConv2d, [64, [2, 3]]]", "mixconv-even"),
                       "MixConv2d: kernels [2, 3] give maps of different sizes (65x65, 64x64) with padding k // 2, so they cannot be concatenated (PyTorch fails here too)")
    }
}
