import ArgumentParser
import Foundation
import YoloCompile

struct SummaryCommand: ParsableCommand, MemoryLimited {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Print the model's layers, parameters and GFLOPs, as YOLOv5 or Ultralytics does.",
        discussion: """
        One row per config row: index, from, n (after depth_multiple), parameters, module and the constructor \
        arguments parse_model passes; an Ultralytics config gets Ultralytics' table (module class paths) and its \
        "summary" line. In YOLOv5's table, after a multi-output backbone (EfficientViT), a "layer" column gives the \
        numbers `from` uses: the backbone fills layers 0-4 and each later row is its index + 4. Parameters count trainable tensors only (BatchNorm running statistics and \
        anchors are buffers), as PyTorch does. When a module holds parameters its forward never runs (each \
        ConvNeXt_Block builds all four stages and runs one), "params" is PyTorch's count and "used" what is exported. GFLOPs are counted as YOLOv5's thop-based model_info counts them (2 per \
        Conv multiply-accumulate, 4 per BatchNorm element) at the given image size; "fused" is the same after Conv+BatchNorm fusion.
        """)

    @OptionGroup var resources: ResourceOptions

    @OptionGroup var model: ModelOptions

    func run() throws {
        try reportingErrors {
            let c = try compile(model, fuse: true)
            for line in LayerTable.lines(c) { say(line) }
            let hasUnused = c.lowered.layers.contains { $0.unusedParameters > 0 }
            let params = c.lowered.pytorchParameters
            let used = c.lowered.graph.constantElementCount(kinds: [.parameter])
            let fusedParams = c.optimized.constantElementCount(kinds: [.parameter])
            let g = c.lowered.graph.type(of: c.lowered.graph.inputs[0]).shape
            say(String(format: "summary: %d layers, %d parameters, %.1f GFLOPs at %dx%d", c.lowered.layers.count, params,
                         graphFLOPs(c.lowered.graph) / 1e9, g[2], g[3]))
            if hasUnused {
                say("used:    \(used) parameters; the other \(params - used) belong to modules PyTorch builds but never runs, and are not exported")
            }
            say("\(c.config.dialect.rawValue) fuse(): \(c.lowered.yolov5FusedParameters) parameters (BatchNorms of Conv modules folded)")
            say(String(format: "fused:   %d nodes, %d parameters, %.1f GFLOPs (every BatchNorm folded)", c.optimized.nodes.count, fusedParams,
                         graphFLOPs(c.optimized) / 1e9))
            let outs = c.optimized.outputs.map { "\(c.optimized.name(of: $0)) \(c.optimized.type(of: $0))" }.joined(separator: ", ")
            say("\(outs), strides \(c.lowered.strides)")
            say("weights: " + (c.weightsSummary ?? "seeded (--seed \(model.seed)), no trained weights"))
        }
    }
}
