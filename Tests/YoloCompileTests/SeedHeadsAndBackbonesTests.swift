import Foundation
import XCTest
import YoloCompile

/// Seed backbones II and heads: MobileNetV3 (seed 002), ConvNeXt_Block (seed 003), DecoupledDetect
/// (seed 004) and YOLOv5's Segment head, against PyTorch's counts for the seeds' code.
final class SeedHeadsAndBackbonesTests: XCTestCase {
    func testMobileNetV3LargeMatchesPyTorchCounts() throws {
        let c = try Compiler.compile(configFile: Repo.sample("yolov5-mobilenetv3"), options: CompileOptions())
        XCTAssertEqual(c.lowered.pytorchParameters, 4_778_883)
        XCTAssertEqual(c.lowered.layers[0].parameters, 2_970_118)
        XCTAssertEqual(c.lowered.layers[1].parameters, 953_792)  // SPPF(960, 256): 960*480 + 960 + 1920*256 + 512
        XCTAssertEqual(c.lowered.layers[0].arguments, [])  // the seed's MobileNetV3(): the large network
        // Outputs by channel count: the last 24-, 40-, 112- and 960-channel module outputs, at strides 4-32.
        XCTAssertEqual(c.lowered.layers[0].featureShapes, [[1, 24, 160, 160], [1, 40, 80, 80], [1, 112, 40, 40], [1, 960, 20, 20]])
        XCTAssertEqual(c.lowered.layers.map(\.layer), [4] + (5...20).map { $0 })
        let names = Set(c.lowered.graph.orderedConstants.map { c.lowered.graph.name(of: $0.0) })
        for n in ["model.0.model.3.conv1.conv.weight", "model.0.model.1.depthwise_conv.norm.running_var",
                  "model.0.model.4.se.linear1.weight", "model.0.model.4.se.linear2.bias", "model.0.model.16.norm.weight",
                  "model.0.model.15.conv2.weight", "model.0.model.0.conv.weight"] {
            XCTAssertTrue(names.contains(n), n)
        }
        // Block 1 (16 -> 16, expansion 16) has no expand conv; nor does any block without SE have `se`.
        XCTAssertFalse(names.contains("model.0.model.1.conv1.conv.weight"))
        XCTAssertFalse(names.contains("model.0.model.3.se.linear1.weight"))
        // The SE: GlobalAveragePool, Flatten, Gemm, Relu, Gemm, HardSigmoid(1/6, 1/2) on 8 large blocks.
        let ops = c.optimized.nodes.map(\.op)
        XCTAssertEqual(ops.filter { $0 == "Gemm" }.count, 16)
        XCTAssertEqual(ops.filter { $0 == "HardSigmoid" }.count, 8)
        XCTAssertFalse(ops.contains("BatchNormalization"))
        let hs = try XCTUnwrap(c.optimized.nodes.first { $0.op == "HardSigmoid" })
        XCTAssertEqual(hs.attributes["alpha"], .float(1.0 / 6.0))
    }

    func testMobileNetV3SmallMatchesPyTorchCounts() throws {
        let c = try Compiler.compile(configFile: Repo.sample("yolov5-mobilenetv3-small"), options: CompileOptions())
        XCTAssertEqual(c.lowered.pytorchParameters, 2_229_035)
        XCTAssertEqual(c.lowered.layers[0].parameters, 921_390)
        // Small: the stem's 16 channels are overwritten by block 1's (stride 4); 576 comes from the last conv.
        XCTAssertEqual(c.lowered.layers[0].featureShapes, [[1, 16, 160, 160], [1, 24, 80, 80], [1, 48, 40, 40], [1, 576, 20, 20]])
        let bad = temporaryFile("mnv3-bad.yaml", contents: try String(contentsOfFile: Repo.sample("yolov5-mobilenetv3"), encoding: .utf8)
            .replacingOccurrences(of: "MobileNetV3, []", with: "MobileNetV3, ['tiny']"))
        XCTAssertEqual(errorText { _ = try Compiler.compile(configFile: bad, options: CompileOptions()) },
                       "\(bad):17: layer 0: MobileNetV3: config must be 'large' or 'small', got 'tiny'")
        // A repeated backbone is refused as a backbone, before the generic channel check for repeats.
        let twice = temporaryFile("mnv3-twice.yaml", contents: try String(contentsOfFile: Repo.sample("yolov5-mobilenetv3"), encoding: .utf8)
            .replacingOccurrences(of: "[-1, 1, MobileNetV3, []]", with: "[-1, 6, MobileNetV3, []]"))  // 6 x depth 0.33 -> 2 copies
        XCTAssertEqual(errorText { _ = try Compiler.compile(configFile: twice, options: CompileOptions()) },
                       "\(twice):17: layer 0: MobileNetV3 returns several feature maps and cannot be repeated (number must be 1)")
    }

    /// Per ConvNeXt Block(d): dwconv 49d + d, LayerNorm 2d, pwconv1 4d^2 + 4d, pwconv2 4d^2 + d, gamma d
    /// = 8d^2 + 58d. Downsample 0 (stem): Conv(3, 96, 4) 4,608 + 96 and LayerNorm 192; downsample i:
    /// LayerNorm 2 dims[i-1] and Conv(dims[i-1], dims[i], 2) 4 dims[i-1] dims[i] + dims[i].
    func testConvNeXtCountsWhatPyTorchCountsAndExportsWhatRuns() throws {
        let c = try Compiler.compile(configFile: Repo.sample("yolov5-convnext"), options: CompileOptions())
        func block(_ d: Int) -> Int { 8 * d * d + 58 * d }
        let used = [4_704 + 192 + 3 * block(96),            // 242,784
                    192 + 73_728 + 192 + 3 * block(192),    // 992,256
                    384 + 294_912 + 384 + 9 * block(384),   // 11,112,960
                    768 + 1_179_648 + 768 + 3 * block(768)]  // 15,470,592
        XCTAssertEqual(used, [242_784, 992_256, 11_112_960, 15_470_592])
        let whole = used.reduce(0, +)  // 27,818,592: ConvNeXt-T without its norm and 1000-class head
        XCTAssertEqual(whole, 27_818_592)
        for i in 0..<4 {
            XCTAssertEqual(c.lowered.layers[i].parameters, used[i])
            XCTAssertEqual(c.lowered.layers[i].parameters + c.lowered.layers[i].unusedParameters, whole)
        }
        // The head: 27,211,389 (Conv, C3 x 4 at width 1.0, Detect over 384/768/768 channels).
        XCTAssertEqual(c.lowered.pytorchParameters, 4 * whole + 27_211_389)
        XCTAssertEqual(c.lowered.graph.constantElementCount(kinds: [.parameter]), whole + 27_211_389)
        XCTAssertEqual(c.lowered.layers[3].outputShape, [1, 768, 20, 20])
        XCTAssertEqual(c.lowered.layers[18].outputShape, [1, 25_200, 85])
        let ops = c.optimized.nodes.map(\.op)
        // 18 blocks' channels_last LayerNorms are LayerNormalization; the 4 channels_first ones (stem
        // and downsamples) reduce over axis 1 with no transposes; the only Transposes are the blocks' permutes
        // and Detect's three.
        XCTAssertEqual(ops.filter { $0 == "LayerNormalization" }.count, 18)
        XCTAssertEqual(ops.filter { $0 == "ReduceMean" }.count, 2 * 4)
        XCTAssertEqual(ops.filter { $0 == "Transpose" }.count, 2 * 18 + 3)
        XCTAssertEqual(ops.filter { $0 == "Gelu" }.count, 18)
    }

    func testConvNeXtStateDictWithUnusedStagesLoadsAndReportsThem() throws {
        // A small ConvNeXt (dims 8..64) whose state_dict holds all four stages in every row, as PyTorch saves it.
        let yaml = """
        nc: 2
        anchors: [[10,13, 16,30, 33,23], [30,61, 62,45, 59,119]]
        backbone:
          [[-1, 1, ConvNeXt_Block, [8, 0, 3, [1, 1, 2, 1], [8, 16, 32, 64]]],
           [-1, 1, ConvNeXt_Block, [16, 1, 3, [1, 1, 2, 1], [8, 16, 32, 64]]],
           [-1, 1, ConvNeXt_Block, [32, 2, 3, [1, 1, 2, 1], [8, 16, 32, 64]]],
          ]
        head:
          [[[1, 2], 1, Detect, [nc, anchors]]]
        """
        let cfg = temporaryFile("convnext-small.yaml", contents: yaml)
        let options = CompileOptions(imageHeight: 64, imageWidth: 64)
        let seeded = try Compiler.compile(configFile: cfg, options: options)
        let g = seeded.lowered.graph
        var tensors = g.orderedConstants.filter { $0.1.kind != .constant }.map { (g.name(of: $0.0), $0.1.tensor) }
        let unused = seeded.lowered.unusedParameters
        // Stage i has 4 downsample tensors and 9 per block (depths 1, 1, 2, 1): 13 + 13 + 22 + 13 = 61 names;
        // each row declares every stage but its own.
        XCTAssertEqual(unused.count, 3 * 61 - (13 + 13 + 22))
        tensors += unused.map { ($0.name, Tensor(shape: $0.shape, floats: [Float](repeating: 0.5, count: $0.count))) }
        let path = temporaryFile("convnext-small.safetensors", contents: "").withBytes(safetensors(tensors))
        let loaded = try Compiler.compile(model: cfg, weights: .file(path, partial: false), options: options)
        XCTAssertEqual(loaded.lowered.notes.count, 1)
        XCTAssertTrue(loaded.lowered.notes[0].hasPrefix("\(unused.count) tensors in \(path) belong to modules the model builds but never runs, so they are not exported: model.0.downsample_layers.1."), loaded.lowered.notes[0])
        let x = Tensor(shape: [1, 3, 64, 64], floats: (0..<(3 * 64 * 64)).map { Float($0 % 17) / 17 })
        XCTAssertEqual(try Interpreter(loaded.optimized).run([x])[0].floats, try Interpreter(seeded.optimized).run([x])[0].floats)
        XCTAssertEqual(try OnnxWriter.serialize(loaded.optimized), try OnnxWriter.serialize(seeded.optimized))
        // A wrongly shaped unused tensor is an error, as PyTorch's load_state_dict would raise.
        tensors[tensors.count - 1].1 = Tensor(shape: [2], floats: [0, 0])
        let bad = temporaryFile("convnext-bad.safetensors", contents: "").withBytes(safetensors(tensors))
        XCTAssertEqual(errorText { _ = try Compiler.compile(model: cfg, weights: .file(bad, partial: false), options: options) },
                       "\(bad): weights do not fit the model: 1 with the wrong shape (\(unused.last!.name) is [2] in the file, the model needs \(unused.last!.shape))")
        // A file with only the tensors that run (what the export holds) loads strictly too, with a note.
        let usedOnly = temporaryFile("convnext-used.safetensors", contents: "").withBytes(safetensors(Array(tensors.dropLast(unused.count))))
        let lean = try Compiler.compile(model: cfg, weights: .file(usedOnly, partial: false), options: options)
        XCTAssertEqual(lean.lowered.notes, ["\(unused.count) tensors of modules the model builds but never runs are not in \(usedOnly); the export does not need them: model.0.downsample_layers.1.1.weight, model.0.downsample_layers.1.1.bias, model.0.downsample_layers.1.0.weight, model.0.downsample_layers.1.0.bias, ... (\(unused.count - 4) more)"])
        XCTAssertEqual(try OnnxWriter.serialize(lean.optimized), try OnnxWriter.serialize(seeded.optimized))
    }

    func testConvNeXtStageDepthZeroAndRepeats() throws {
        func yaml(_ rows: String) -> String {
            "nc: 1\nanchors: 1\nbackbone:\n  [\(rows)]\nhead:\n  [[[-1], 1, Detect, [nc, anchors]]]\n"
        }
        // depths [1, 0, 1, 1]: stage 1 is its downsample alone (an empty nn.Sequential), as in PyTorch.
        let cfg = temporaryFile("convnext-depth0.yaml", contents: yaml(
            "[-1, 1, ConvNeXt_Block, [8, 0, 3, [1, 0, 1, 1], [8, 16, 32, 64]]],\n   [-1, 1, ConvNeXt_Block, [16, 1, 3, [1, 0, 1, 1], [8, 16, 32, 64]]]"))
        let c = try Compiler.compile(configFile: cfg, options: CompileOptions(imageHeight: 64, imageWidth: 64))
        // Row 1 runs LayerNorm(8) 16 and Conv2d(8, 16, 2, 2) 8 * 16 * 4 + 16 = 528.
        XCTAssertEqual(c.lowered.layers[1].parameters, 16 + 528)
        XCTAssertEqual(c.lowered.layers[1].outputShape, [1, 16, 8, 8])
        // Repeating a stage feeds copy 2 the stage's output, which its downsample cannot read.
        let twice = temporaryFile("convnext-twice.yaml", contents: yaml(
            "[-1, 1, ConvNeXt_Block, [8, 0, 3, [1, 1, 1, 1], [8, 16, 32, 64]]],\n   [-1, 2, ConvNeXt_Block, [16, 1, 3, [1, 1, 1, 1], [8, 16, 32, 64]]]"))
        XCTAssertEqual(errorText { _ = try Compiler.compile(configFile: twice, options: CompileOptions(imageHeight: 64, imageWidth: 64)) },
                       "\(twice):5: layer 1: ConvNeXt_Block is repeated 2 times as copies built alike, so copy 2 would receive the 16 channels copy 1 makes where it expects 8; repeat it only where input and output channels are equal")
    }

    func testConvNeXtArgumentsAreChecked() throws {
        let text = try String(contentsOfFile: Repo.sample("yolov5-convnext"), encoding: .utf8)
        let bad = temporaryFile("convnext-c2.yaml", contents: text.replacingOccurrences(of: "[192, 1, 3,", with: "[256, 1, 3,"))
        XCTAssertEqual(errorText { _ = try Compiler.compile(configFile: bad, options: CompileOptions()) },
                       "\(bad):17: layer 1: ConvNeXt_Block: c2 is 256 but stage 1 outputs dims[1] = 192 channels")
    }

    /// Per level with base_conv: BaseConv(x, 256, 1) 256x + 512; cls and reg BaseConv(256, 256, 3)
    /// 589,824 + 512 each; m_box 256 * 12 + 12, m_conf 256 * 3 + 3, m_labels 256 * 240 + 240 = 65,535.
    func testDecoupledHeadCounts() throws {
        let c = try Compiler.compile(configFile: Repo.sample("yolov5s-decoupled"), options: CompileOptions())
        let level = 2 * 590_336 + 65_535
        let head = 3 * level + (128 + 256 + 512) * 256 + 3 * 512
        XCTAssertEqual(head, 3_969_533)
        XCTAssertEqual(c.lowered.layers[24].parameters, head)
        XCTAssertEqual(c.lowered.pytorchParameters, 7_235_389 - 229_245 + head)  // yolov5s less its Detect
        XCTAssertEqual(c.optimized.type(of: c.optimized.outputs[0]).shape, [1, 25_200, 85])
        XCTAssertFalse(c.optimized.nodes.contains { $0.op == "BatchNormalization" })

        // The lighter variant: no base_conv, branches at the level's width x: 18x^2 + 4x (two BaseConvs)
        // + 255x + 255 (the predictors).
        let text = try String(contentsOfFile: Repo.sample("yolov5s-decoupled"), encoding: .utf8)
        let light = temporaryFile("decoupled-light.yaml", contents: text.replacingOccurrences(of: "DecoupledDetect, [nc, anchors]]", with: "DecoupledDetect, [nc, anchors, False]]"))
        let l = try Compiler.compile(configFile: light, options: CompileOptions())
        XCTAssertEqual(l.lowered.layers[24].parameters, [128, 256, 512].reduce(0) { $0 + 18 * $1 * $1 + 259 * $1 + 255 })
        XCTAssertEqual(l.lowered.layers[24].parameters, 6_425_981)
        let names = Set(l.lowered.graph.orderedConstants.map { l.lowered.graph.name(of: $0.0) })
        XCTAssertTrue(names.contains("model.24.cls_convs.2.conv.weight") && names.contains("model.24.m_labels.0.bias"))
        XCTAssertFalse(names.contains { $0.contains("base_conv") })
    }

    /// The seed's channel layout: the concatenation (box 4na, conf na, labels nc*na) is viewed as
    /// (na, 5 + nc): anchor 0's x, y, w, h are m_box channels 0-3 and its "conf" is channel 4, which
    /// is anchor 1's first box value; the concatenation order and widths are what this pins.
    func testDecoupledHeadKeepsTheSeedsChannelLayout() throws {
        let c = try Compiler.compile(configFile: Repo.sample("yolov5s-decoupled"), options: CompileOptions(imageHeight: 64, imageWidth: 64))
        let g = c.lowered.graph
        let concat = try XCTUnwrap(g.nodes.first { $0.op == "Concat" && $0.name.hasPrefix("/model.24/") })
        XCTAssertEqual(concat.inputs.compactMap { $0 }.map { g.type(of: $0).shape[1] }, [12, 3, 240])
        let reshape = try XCTUnwrap(g.nodes.first { $0.op == "Reshape" && $0.inputs[0] == concat.outputs[0] })
        XCTAssertEqual(g.type(of: reshape.outputs[0]).shape, [1, 3, 85, 8, 8])
    }

    func testSegmentHeadHasTwoOutputsAsYOLOv5ExportsThem() throws {
        let c = try Compiler.compile(configFile: Repo.sample("yolov5s-seg"), options: CompileOptions())
        // YOLOv5 v7.0 prints 7,621,277 parameters for yolov5s-seg, 7,611,485 after fuse(). The head:
        // m: (x + 1) * 351 over x = 128, 256, 512 = 315,549; Proto(128, 128, 32): two Conv(128, 128, 3)
        // 147,712 each and Conv(128, 32) 4,160.
        XCTAssertEqual(c.lowered.layers[24].parameters, 315_549 + 2 * 147_712 + 4_160)
        XCTAssertEqual(c.lowered.pytorchParameters, 7_621_277)
        XCTAssertEqual(c.lowered.yolov5FusedParameters, 7_611_485)
        XCTAssertEqual(c.optimized.outputs.map { c.optimized.name(of: $0) }, ["output0", "output1"])
        XCTAssertEqual(c.optimized.outputs.map { c.optimized.type(of: $0).shape }, [[1, 25_200, 117], [1, 32, 160, 160]])
        let text = try String(contentsOfFile: Repo.sample("yolov5s-seg"), encoding: .utf8)
        let bad = temporaryFile("seg-not-last.yaml", contents: text.replacingOccurrences(of: "Segment, [nc, anchors, 32, 256]],  # Detect(P3, P4, P5)",
                                                                                    with: "Segment, [nc, anchors, 32, 256]],\n   [-1, 1, Conv, [8, 1, 1]],"))
        XCTAssertEqual(errorText { _ = try Compiler.compile(configFile: bad, options: CompileOptions()) },
                       "\(bad):48: layer 24: Segment returns the model's outputs (detections and mask prototypes), so it must be the last row")
    }
}
