import ArgumentParser
import Foundation
import YoloCompile

struct SummaryCommand: ParsableCommand, MemoryLimited {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Print the model's layers, parameters and GFLOPs, as YOLOv5 does.",
        discussion: """
        One row per config row: index, from, n (after depth_multiple), parameters, module and the constructor \
        arguments parse_model passes. After a multi-output backbone (EfficientViT), a "layer" column gives the \
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
            func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
            func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
            let moduleWidth = max(16, (c.lowered.layers.map(\.module.count).max() ?? 0) + 2)
            let renumbered = c.lowered.layers.contains { $0.layer != $0.index }
            func layerColumn(_ l: LayerInfo) -> String {
                guard renumbered else { return "" }
                return pad(l.featureShapes.isEmpty ? String(l.layer) : "\(l.layer + 1 - l.featureShapes.count)-\(l.layer)", 6)
            }
            // A "used" column when some module holds parameters its forward never runs (ConvNeXt_Block).
            let hasUnused = c.lowered.layers.contains { $0.unusedParameters > 0 }
            func usedColumn(_ l: LayerInfo) -> String { hasUnused ? pad(String(l.parameters), 11) : "" }
            say("\(pad("", 4))\(renumbered ? pad("layer", 6) : "")\(pad("from", 18))\(pad("n", 4))\(pad("params", 11))\(hasUnused ? pad("used", 11) : "")  \(lpad("module", moduleWidth))arguments")
            for l in c.lowered.layers {
                let args = "[" + l.arguments.map(\.description).joined(separator: ", ") + "]"
                say("\(pad(String(l.index), 4))\(layerColumn(l))\(pad(l.from, 18))\(pad(String(l.number), 4))\(pad(String(l.parameters + l.unusedParameters), 11))\(usedColumn(l))  \(lpad(l.module, moduleWidth))\(args)")
            }
            let params = c.lowered.pytorchParameters
            let used = c.lowered.graph.constantElementCount(kinds: [.parameter])
            let fusedParams = c.optimized.constantElementCount(kinds: [.parameter])
            let g = c.lowered.graph.type(of: c.lowered.graph.inputs[0]).shape
            say(String(format: "summary: %d layers, %d parameters, %.1f GFLOPs at %dx%d", c.lowered.layers.count, params,
                         graphFLOPs(c.lowered.graph) / 1e9, g[2], g[3]))
            if hasUnused {
                say("used:    \(used) parameters; the other \(params - used) belong to modules PyTorch builds but never runs, and are not exported")
            }
            say("YOLOv5 fuse(): \(c.lowered.yolov5FusedParameters) parameters (BatchNorms of Conv modules folded)")
            say(String(format: "fused:   %d nodes, %d parameters, %.1f GFLOPs (every BatchNorm folded)", c.optimized.nodes.count, fusedParams,
                         graphFLOPs(c.optimized) / 1e9))
            let outs = c.optimized.outputs.map { "\(c.optimized.name(of: $0)) \(c.optimized.type(of: $0))" }.joined(separator: ", ")
            say("\(outs), strides \(c.lowered.strides)")
            say("weights: " + (c.weightsSummary ?? "seeded (--seed \(model.seed)), no trained weights"))
        }
    }
}
