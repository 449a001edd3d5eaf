import Foundation

/// The layer table `summary` prints, in the format of the config's own framework: YOLOv5's parse_model
/// log, or Ultralytics' (its module column holds the class path, `ultralytics.nn.modules.block.C2f`).
public enum LayerTable {
    public static func lines(_ c: CompiledModel) -> [String] {
        c.config.dialect == .ultralytics ? ultralytics(c) : yolov5(c)
    }

    private static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
    private static func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    private static func arguments(_ l: LayerInfo) -> String { "[" + l.arguments.map(\.description).joined(separator: ", ") + "]" }

    /// YOLOv5's: index, from, n, params, module, arguments; a "layer" column after a multi-output backbone
    /// (the numbers `from` uses) and a "used" one when a module holds parameters its forward never runs.
    static func yolov5(_ c: CompiledModel) -> [String] {
        let layers = c.lowered.layers
        let moduleWidth = max(16, (layers.map(\.module.count).max() ?? 0) + 2)
        let renumbered = layers.contains { $0.layer != $0.index }
        func layerColumn(_ l: LayerInfo) -> String {
            guard renumbered else { return "" }
            return pad(l.featureShapes.isEmpty ? String(l.layer) : "\(l.layer + 1 - l.featureShapes.count)-\(l.layer)", 6)
        }
        let hasUnused = layers.contains { $0.unusedParameters > 0 }
        func usedColumn(_ l: LayerInfo) -> String { hasUnused ? pad(String(l.parameters), 11) : "" }
        var out = ["\(pad("", 4))\(renumbered ? pad("layer", 6) : "")\(pad("from", 18))\(pad("n", 4))\(pad("params", 11))\(hasUnused ? pad("used", 11) : "")  \(lpad("module", moduleWidth))arguments"]
        for l in layers {
            out.append("\(pad(String(l.index), 4))\(layerColumn(l))\(pad(l.from, 18))\(pad(String(l.number), 4))\(pad(String(l.parameters + l.unusedParameters), 11))\(usedColumn(l))  \(lpad(l.module, moduleWidth))\(arguments(l))")
        }
        return out
    }

    /// Ultralytics' parse_model log (`f"{i:>3}{f!s:>20}{n_:>3}{m_.np:10.0f}  {t:<45}{args!s:<30}"`), then its
    /// model_info line: `YOLO11n summary: 2,624,080 parameters, 2,624,064 gradients, 6.6 GFLOPs` (without
    /// its count of leaf modules; gradients leave out DFL's fixed weights).
    static func ultralytics(_ c: CompiledModel) -> [String] {
        var out = ["\(pad("", 3))\(pad("from", 20))\(pad("n", 3))\(pad("params", 10))  \(lpad("module", 45))arguments"]
        for l in c.lowered.layers {
            out.append("\(pad(String(l.index), 3))\(pad(l.from, 20))\(pad(String(l.number), 3))\(pad(String(l.parameters + l.unusedParameters), 10))  \(lpad(classPath(l.module), 45))\(arguments(l))")
        }
        let params = c.lowered.pytorchParameters
        let fixed = ["Detect", "Segment", "Pose", "OBB"].contains(c.config.rows.last?.module ?? "") && c.config.regMax > 1 ? c.config.regMax : 0
        let g = c.lowered.graph.type(of: c.lowered.graph.inputs[0]).shape
        let name = c.config.name.replacingOccurrences(of: "yolo", with: "YOLO")
        out.append("\(name) summary: \(grouped(params)) parameters, \(grouped(params - fixed)) gradients, "
                   + String(format: "%.1f GFLOPs at %dx%d", graphFLOPs(c.lowered.graph) / 1e9, g[2], g[3]))
        return out
    }

    /// `str(m)[8:-2]` of the module's class, as Ultralytics prints it.
    static func classPath(_ module: String) -> String {
        if module.hasPrefix("nn.") {
            let name = String(module.dropFirst(3))
            let file: String
            switch name {
            case "Upsample": file = "upsampling"
            case "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d": file = "pooling"
            case "ZeroPad2d": file = "padding"
            case "Identity", "Linear": file = "linear"
            case "Dropout", "Dropout2d": file = "dropout"
            case "Conv2d", "ConvTranspose2d": file = "conv"
            case "BatchNorm2d": file = "batchnorm"
            case "Flatten": file = "flatten"
            default: file = "activation"
            }
            return "torch.nn.modules.\(file).\(name)"
        }
        switch module {
        case "Conv", "DWConv", "Focus", "GhostConv", "Concat", "DWConvTranspose2d": return "ultralytics.nn.modules.conv.\(module)"
        case "Detect", "Segment", "Pose", "OBB", "Classify": return "ultralytics.nn.modules.head.\(module)"
        case "C2", "C2f", "C3k2", "C3", "C3x", "C3TR", "C3Ghost", "SPP", "SPPF", "Bottleneck", "BottleneckCSP", "GhostBottleneck", "C2PSA":
            return "ultralytics.nn.modules.block.\(module)"
        default: return module
        }
    }

    private static func grouped(_ n: Int) -> String {
        let digits = String(n)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(ch)
        }
        return out
    }
}
