import Foundation
import XCTest
import YoloCompile

/// Seed backbones I: multi-output backbones (EfficientViT) and MobileViT, against the seeds' printed
/// figures and PyTorch's output.
final class BackboneTests: XCTestCase {
    func testEfficientViTSummaryMatchesSeed001() throws {
        let c = try Compiler.compile(configFile: Repo.sample("yolov5-efficientvit"), options: CompileOptions())
        // Seed 001 prints: EfficientViT_M0 2,155,680, SPPF 117,440, total 3,131,677, 3,129,213 after fuse().
        XCTAssertEqual(c.lowered.graph.constantElementCount(kinds: [.parameter]), 3_131_677)
        XCTAssertEqual(c.lowered.layers[0].parameters, 2_155_680)
        XCTAssertEqual(c.lowered.layers[1].parameters, 117_440)
        XCTAssertEqual(c.lowered.layers[1].arguments.map(\.description), ["192", "256", "5"])
        XCTAssertEqual(c.lowered.layers[16].parameters, 115_005)
        XCTAssertEqual(c.lowered.yolov5FusedParameters, 3_129_213)
        // Full fusion: 3,131,677 - 2,464 (YOLOv5 Conv BNs: -2c + c bias) - 14,136 (the backbone's
        // Conv2d_BN, likewise) - 1,176 (attention_biases, exported as gathered constants) = 3,113,901.
        XCTAssertEqual(c.optimized.constantElementCount(kinds: [.parameter]), 3_113_901)
        XCTAssertEqual(c.optimized.nodes.count, 689)
        XCTAssertFalse(c.optimized.nodes.contains { ["Gather", "Shape", "BatchNormalization"].contains($0.op) })
    }

    func testBackboneFillsLayersZeroToFourAndLaterRowsAreRenumbered() throws {
        let c = try Compiler.compile(configFile: Repo.sample("yolov5-efficientvit"), options: CompileOptions())
        let layers = c.lowered.layers
        XCTAssertEqual(layers[0].featureShapes, [[1, 64, 80, 80], [1, 128, 40, 40], [1, 192, 20, 20]])
        XCTAssertEqual(layers.map(\.layer), [4] + (5...20).map { $0 })
        // Row 4 is Concat [-1, 3]: the previous layer and the backbone's stride-16 map (layer 3).
        XCTAssertEqual(layers[4].outputShape, [1, 128 + 128, 40, 40])
        XCTAssertEqual(layers[8].outputShape, [1, 64 + 64, 80, 80])
        XCTAssertEqual(c.lowered.strides, [8, 16, 32])
        // State-dict names stay positional: model.0 is the backbone, model.1 the SPPF.
        let names = Set(c.lowered.graph.orderedConstants.map { c.lowered.graph.name(of: $0.0) })
        for n in ["model.0.blocks1.0.mixer.m.attn.qkvs.0.c.weight", "model.0.blocks2.1.se.fc1.bias",
                  "model.0.patch_embed.6.bn.running_var", "model.0.blocks3.5.ffn1.m.pw2.bn.weight",
                  "model.0.blocks1.0.mixer.m.attn.attention_bias_idxs", "model.1.cv1.conv.weight"] {
            XCTAssertTrue(names.contains(n), n)
        }
    }

    func testAttentionBiasIndicesAreDerivedAsTheSeedComputesThem() throws {
        let c = try Compiler.compile(configFile: Repo.sample("yolov5-efficientvit"), options: CompileOptions())
        let g = c.lowered.graph
        let idxs = try XCTUnwrap(g.orderedConstants.first { g.name(of: $0.0) == "model.0.blocks1.0.mixer.m.attn.attention_bias_idxs" }?.1)
        XCTAssertEqual(idxs.tensor.shape, [49, 49])
        XCTAssertEqual(idxs.kind, .buffer)
        // Point 0 is (0,0); point 8 is (1,1): offset (1,1) is the 8th distinct offset seen from (0,0).
        XCTAssertEqual(Array(idxs.tensor.ints.prefix(9)), [0, 1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(Set(idxs.tensor.ints).count, 49)
    }

    func testEfficientViTVariantsParameterCounts() throws {
        // The backbone rows plus the classifier head EfficientViT's paper counts (BN_Linear(c, 1000):
        // 2c + 1000c + 1000) give its table's 3.0M, 4.2M, 6.9M, 8.8M and 12.4M for M1-M5.
        let expected = [(1, 2_787_473, 3_769_614), (2, 3_962_304, 4_973_661), (3, 6_579_478, 7_672_339),
                        (4, 8_418_856, 9_569_125), (5, 12_088_532, 13_246_993)]
        for (m, backbone, total) in expected {
            let c = try Compiler.compile(configFile: Repo.sample("yolov5-efficientvit-m\(m)"),
                                         options: CompileOptions(imageHeight: 256, imageWidth: 256))
            XCTAssertEqual(c.lowered.layers[0].parameters, backbone, "M\(m)")
            XCTAssertEqual(c.lowered.graph.constantElementCount(kinds: [.parameter]), total, "M\(m)")
        }
    }

    func testEfficientViTFixtureMatchesPyTorchInOurInterpreter() throws {
        for file in ["weights.safetensors", "state_dict.pt"] {
            let c = try Compiler.compile(model: Repo.sample("yolov5-efficientvit"),
                                         weights: .file(Repo.fixture("yolov5-efficientvit/" + file), partial: false),
                                         options: CompileOptions(imageHeight: 320, imageWidth: 320))
            XCTAssertEqual(c.lowered.notes, [], file)  // every tensor used, attention_bias_idxs checked
            let x = try Npy.read(file: Repo.fixture("yolov5-efficientvit/input.npy"))
            let expected = try Npy.read(file: Repo.fixture("yolov5-efficientvit/output.npy"))
            let y = try Interpreter(c.optimized).run([x])[0]
            XCTAssertEqual(y.shape, [1, 6300, 85])
            XCTAssertGreaterThan(expected.floats.map(abs).max() ?? 0, 300)
            // Measured 9.2e-5 (outputs up to ~400) against the corrected fixture.
            XCTAssertLessThan(maxAbsDifference(y, expected), 2e-4, file)
        }
    }

    func testSmallMapsAreRejectedAsThePyTorchCodeWouldFail() {
        // At 160 the stride-32 map is 5x5: the seed's bias table (49x49) cannot add to 25x25 scores.
        let e = errorText { _ = try Compiler.compile(configFile: Repo.sample("yolov5-efficientvit"), options: CompileOptions(imageHeight: 160, imageWidth: 160)) }
        XCTAssertEqual(e, Repo.sample("yolov5-efficientvit") + ":17: layer 0: EfficientViT_M0: the 5x5 feature map is smaller than the 7x7 attention window, and the seed's attention bias table fits only a whole window (PyTorch fails here too); use a larger image size")
    }

    func testBackboneMustBeTheFirstRowAndEmptySlotsCannotBeRead() throws {
        let yaml = try String(contentsOfFile: Repo.sample("yolov5-efficientvit"), encoding: .utf8)
        let late = temporaryFile("late.yaml", contents: yaml.replacingOccurrences(
            of: "[[-1, 1, EfficientViT_M0, []],  # layers 0-4 (2: P3/8, 3: P4/16, 4: P5/32)\n   [-1, 1, SPPF, [1024, 5]],  # 5",
            with: "[[-1, 1, Conv, [16, 3, 1]],\n   [-1, 1, EfficientViT_M0, []],"))
        XCTAssertEqual(errorText { _ = try Compiler.compile(configFile: late, options: CompileOptions()) },
                       late + ":18: layer 1: EfficientViT_M0 returns several feature maps, so it must be the first row (layers 0 to 4 hold its outputs)")
        let empty = temporaryFile("empty.yaml", contents: yaml.replacingOccurrences(of: "[[-1, 3], 1, Concat, [1]]", with: "[[-1, 1], 1, Concat, [1]]"))
        XCTAssertEqual(errorText { _ = try Compiler.compile(configFile: empty, options: CompileOptions()) },
                       empty + ":24: layer 8 (row 4): 'from' 1 names layer 1, an empty slot: the backbone in row 0 fills layers 2 to 4")
    }

    func testMobileViTAt640NamesTheLayerTheMapThePatchAndSizesThatWork() {
        let file = Repo.sample("yolov5-mobilevit")
        XCTAssertEqual(errorText { _ = try Compiler.compile(configFile: file, options: CompileOptions()) },
                       file + ":30: layer 9: MobileViTAttention: the 20x20 feature map does not divide into 3x3 patches at image size 640x640; image sizes that work for this config are multiples of 192 (576, 768, ...)")
        XCTAssertEqual(errorText { _ = try Compiler.compile(configFile: file, options: CompileOptions(imageHeight: 576, imageWidth: 704)) },
                       file + ":30: layer 9: MobileViTAttention: the 18x22 feature map does not divide into 3x3 patches at image size 576x704; image sizes that work for this config are multiples of 192 (576, 768, ...)")
        // Layer 7 (patch 4 at stride 16) fails first at 480: 30x30.
        XCTAssertEqual(errorText { _ = try Compiler.compile(configFile: file, options: CompileOptions(imageHeight: 480, imageWidth: 480)) },
                       file + ":28: layer 7: MobileViTAttention: the 30x30 feature map does not divide into 4x4 patches at image size 480x480; image sizes that work for this config are multiples of 192 (384, 576, ...)")
    }

    func testMobileViTRowsAndShapes() throws {
        let c = try Compiler.compile(configFile: Repo.sample("yolov5-mobilevit"), options: CompileOptions(imageHeight: 576, imageWidth: 768))
        let l = c.lowered.layers
        // MV2Block(32, 32, 1, 2): hidden 64; expand 32*64 + BN 128, depthwise 64*9 + BN 128, project 64*32 + BN 64.
        XCTAssertEqual(l[1].parameters, 2048 + 128 + 576 + 128 + 2048 + 64)
        // Expansion-1-free, stride 2, 48 -> 64: hidden 96: 48*96 + 192 + 96*9 + 192 + 96*64 + 128.
        XCTAssertEqual(l[4].parameters, 4608 + 192 + 864 + 192 + 6144 + 128)
        // MobileViTAttention(64, 96, depth 2, k 3, patch 2, mlp 192): conv1 64*64*9+64, conv2 64*96+96,
        // per layer LN 192 + to_qkv 96*1536 + to_out 512*96+96 + LN 192 + 96*192+192 + 192*96+96,
        // conv3 96*64+64, conv4 128*64*9+64.
        XCTAssertEqual(l[5].parameters, 36928 + 6240 + 2 * (192 + 147_456 + 49_248 + 192 + 18_624 + 18_528) + 6208 + 73_792)
        XCTAssertEqual(l[3].number, 2)
        XCTAssertEqual(l[4].outputShape, [1, 64, 72, 96])
        XCTAssertEqual(l[9].outputShape, [1, 96, 18, 24])
        XCTAssertEqual(c.optimized.type(of: c.optimized.outputs[0]).shape, [1, 3 * (72 * 96 + 36 * 48 + 18 * 24), 15])
        let names = Set(c.lowered.graph.orderedConstants.map { c.lowered.graph.name(of: $0.0) })
        for n in ["model.1.conv.3.weight", "model.1.conv.7.running_var", "model.3.1.conv.6.weight",
                  "model.5.trans.layers.1.0.fn.to_qkv.weight", "model.5.trans.layers.0.1.fn.net.3.bias",
                  "model.5.trans.layers.0.0.ln.weight", "model.5.conv4.bias"] {
            XCTAssertTrue(names.contains(n), n)
        }
    }

    func testExportImportExportIsByteIdenticalWithAttentionAndLayerNorm() throws {
        for (sample, size) in [("yolov5-efficientvit", 256), ("yolov5-mobilevit", 192)] {
            let c = try Compiler.compile(configFile: Repo.sample(sample), options: CompileOptions(imageHeight: size, imageWidth: size))
            for opset in [12, 16, 17, 18, 21] {
                let first = try OnnxWriter.serialize(c.optimized, options: OnnxWriteOptions(opset: opset))
                let (g, _) = try OnnxReader.read(bytes: Data(first), file: "first.onnx")
                let second = try OnnxWriter.serialize(g, options: OnnxWriteOptions(opset: opset))
                XCTAssertTrue(first == second, "\(sample) opset \(opset): re-export differs")
            }
        }
    }

    func testLayerNormBelowOpset17IsTheSameFunction() throws {
        let c = try Compiler.compile(configFile: Repo.sample("yolov5-mobilevit"), options: CompileOptions(imageHeight: 192, imageWidth: 192))
        let (g16, _) = try OnnxReader.read(bytes: Data(try OnnxWriter.serialize(c.optimized, options: OnnxWriteOptions(opset: 16))), file: "16.onnx")
        XCTAssertFalse(g16.nodes.contains { $0.op == "LayerNormalization" })
        XCTAssertEqual(g16.nodes.filter { $0.op == "ReduceMean" }.count, 2 * 12)
        var rng = SplitMix64(seed: 3)
        let x = Tensor(shape: [1, 3, 192, 192], floats: (0..<(3 * 192 * 192)).map { _ in rng.nextUnitFloat() })
        let a = try Interpreter(c.optimized).run([x])[0], b = try Interpreter(g16).run([x])[0]
        let scale = a.floats.map(abs).max() ?? 1
        XCTAssertLessThan(maxAbsDifference(a, b) / scale, 1e-5)
    }
}
