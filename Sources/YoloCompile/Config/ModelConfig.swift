import Foundation

/// Anchors as a config gives them: pixel sizes per detection level, or just a count per level.
public enum AnchorSpec: Sendable, Equatable {
    /// Per level, a flat list `w0, h0, w1, h1, ...` in pixels.
    case perLevel([[Double]])
    /// `anchors: 3`: this many anchors per level, sizes left to autoanchor (placeholders 0, 1, 2, ...).
    case count(Int)

    public var asArg: ArgValue {
        switch self {
        case .perLevel(let l): return .list(l.map { .list($0.map { $0 == $0.rounded() && abs($0) < 1e15 ? .int(Int($0)) : .float($0) }) })
        case .count(let n): return .int(n)
        }
    }
}

/// One `[from, number, module, args]` row of `backbone` or `head`.
public struct LayerRow: Sendable, Equatable {
    public var index: Int
    /// Source layers as written: -1 is the previous layer, other negatives count back, others are absolute.
    public var from: [Int]
    /// Whether `from` was written as a list (Concat and Detect take lists).
    public var fromIsList: Bool
    public var number: Int
    public var module: String
    public var args: [ArgValue]
    public var line: Int

    public var fromDescription: String {
        fromIsList ? "[" + from.map(String.init).joined(separator: ", ") + "]" : String(from[0])
    }
}

/// Whose parse_model reads a config. They share the YAML shape and most module names, but differ in
/// channel scaling (`max_channels`), in what `Detect`, `Segment`, `Classify` and `Bottleneck` are, and
/// in the modules they know. A config with an `anchors:` key is YOLOv5's (its parse_model requires
/// one); one without is Ultralytics' (the `ultralytics` package, 8.x).
public enum ConfigDialect: String, Sendable, Equatable {
    case yolov5 = "YOLOv5"
    case ultralytics = "Ultralytics"
}

/// A YOLOv5 or Ultralytics model config, as its `parse_model` reads it.
public struct ModelConfig: Sendable, Equatable {
    /// The file read (for messages).
    public var file: String
    /// The model's name, as the user named its config (`yolo11n` for `yolo11n.yaml`, even when the
    /// unified `yolo11.yaml` was read): the graph's name, and Ultralytics' description.
    public var name: String = ""
    public var dialect: ConfigDialect = .yolov5
    public var nc: Int
    /// After the scale is applied (Ultralytics' `scales:` set depth, width and max_channels).
    public var depthMultiple: Double
    public var widthMultiple: Double
    /// Ultralytics: channels are clamped to this before the width gain (`scales:`' third value).
    public var maxChannels: Int? = nil
    /// Ultralytics: parse_model's `scale`: the one chosen from `scales:` (n, s, m, l, x), or without
    /// scales the letter the file name gives ("" for none; C3k2 reads it).
    public var scale: String? = nil
    /// YOLOv5's anchors; nil for Ultralytics' anchor-free configs.
    public var anchors: AnchorSpec?
    /// Ultralytics pose models: keypoints per object and values per keypoint (2 or 3).
    public var keypointShape: [Int]? = nil
    /// Ultralytics: the DFL bins per box side (`reg_max`, 16 unless the config says).
    public var regMax: Int = 16
    /// `activation: nn.LeakyReLU(0.1)` and the like; nil keeps SiLU.
    public var activation: String?
    public var activationLine: Int?
    /// Input channels (`ch`, default 3).
    public var inputChannels: Int
    public var rows: [LayerRow]
    /// Class names when the config carries them; YOLOv5's default is the index as a string.
    public var names: [String]?
    /// What the front end decided for the user (the scale it assumed, the file it read), to print.
    public var notes: [String] = []

    /// An Ultralytics config whose last row is Classify: Ultralytics builds it as a ClassificationModel
    /// (guess_model_task reads the head's last module).
    public var isUltralyticsClassifier: Bool { dialect == .ultralytics && rows.last?.module == "Classify" }

    public var anchorsPerLevel: Int {
        switch anchors {
        case .perLevel(let l)?: return (l.first?.count ?? 0) / 2
        case .count(let n)?: return n
        case nil: return 0
        }
    }
}

extension ModelConfig {
    /// A config file's name without folder and extension.
    public static func name(ofFile path: String) -> String {
        ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    }
}
