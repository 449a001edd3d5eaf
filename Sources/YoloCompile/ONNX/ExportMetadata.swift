import Foundation

/// What an exported file says about its model in `metadata_props`, as the exporter of the config's own
/// framework writes it, so that framework's runtime (YOLOv5's DetectMultiBackend, Ultralytics' AutoBackend)
/// reads our file as it reads its own. Values are Python's `str()` of the exporter's values.
public enum ExportMetadata {
    /// YOLOv5's export.py: `{'stride': int(max(model.stride)), 'names': model.names}`.
    /// Ultralytics' exporter: description, stride, task, batch, imgsz, names, args, channels, and kpt_shape
    /// for pose. Left out: author, date, version, license and docs, which would attribute this file to
    /// Ultralytics (and a date would make exports differ run to run).
    static func set(_ b: GraphBuilder, _ config: ModelConfig, strides: [Int], options: CompileOptions) {
        let names = config.names ?? (0..<config.nc).map(String.init)
        let namesText = "{" + names.enumerated().map { "\($0.offset): \(pythonString($0.element))" }.joined(separator: ", ") + "}"
        guard config.dialect == .ultralytics else {
            b.setMetadata("stride", String(strides.max() ?? 32))
            b.setMetadata("names", namesText)
            return
        }
        let task = ultralyticsTask(config)
        // Exporter.pretty_name: the config's file stem with "yolo" capitalised (Ultralytics YOLO11n model).
        b.setMetadata("description", "Ultralytics \(config.name.replacingOccurrences(of: "yolo", with: "YOLO")) model ")
        b.setMetadata("stride", String(task == "classify" ? 1 : strides.max() ?? 32))  // ClassificationModel.stride is [1]
        b.setMetadata("task", task)
        b.setMetadata("batch", String(options.batch))
        b.setMetadata("imgsz", "[\(options.imageHeight), \(options.imageWidth)]")
        b.setMetadata("names", namesText)
        b.setMetadata("args", arguments(batch: options.batch, half: false))
        b.setMetadata("channels", String(config.inputChannels))
        if task == "pose" {  // the head's kpt_shape: the row's (kpt_shape resolved), else Pose's default
            let k = poseArgument(config) ?? [17, 3]
            b.setMetadata("kpt_shape", "[\(k[0]), \(k[1])]")
        }
    }

    /// Ultralytics' task, as guess_model_task reads the config's last module.
    public static func ultralyticsTask(_ config: ModelConfig) -> String {
        switch config.rows.last?.module {
        case "Segment": return "segment"
        case "Pose": return "pose"
        case "OBB": return "obb"
        case "Classify": return "classify"
        default: return "detect"
        }
    }

    /// The export arguments Ultralytics records for ONNX, in its default.yaml order. opset is the user's
    /// (None when not given), as Ultralytics records it.
    static func arguments(batch: Int, half: Bool) -> String {
        "{'batch': \(batch), 'half': \(half ? "True" : "False"), 'dynamic': False, 'simplify': False, 'opset': None, 'nms': False}"
    }

    /// Records `export --half` in Ultralytics' `args` (a YOLOv5 export has no such entry).
    public static func recordHalf(_ g: inout Graph) {
        guard let i = g.metadata.firstIndex(where: { $0.key == "args" }) else { return }
        let batch = g.metadata.first { $0.key == "batch" }.flatMap { Int($0.value) } ?? 1
        g.metadata[i].value = arguments(batch: batch, half: true)
    }

    private static func poseArgument(_ config: ModelConfig) -> [Int]? {
        guard case .list(let l)? = config.rows.last?.args.dropFirst().first, l.count == 2,
              let n = l[0].intValue, let d = l[1].intValue else { return nil }
        return [n, d]
    }

    /// Python's repr of a str: single quotes unless the text holds one and no double quote.
    static func pythonString(_ s: String) -> String {
        let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case quote: out += "\\" + String(c)
            default: out.append(c)
            }
        }
        return out + String(quote)
    }
}
