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

/// A YOLOv5 model config, as `parse_model` reads it.
public struct ModelConfig: Sendable, Equatable {
    public var file: String
    public var nc: Int
    public var depthMultiple: Double
    public var widthMultiple: Double
    public var anchors: AnchorSpec
    /// `activation: nn.LeakyReLU(0.1)` and the like; nil keeps SiLU.
    public var activation: String?
    public var activationLine: Int?
    /// Input channels (`ch`, default 3).
    public var inputChannels: Int
    public var rows: [LayerRow]
    /// Class names when the config carries them; YOLOv5's default is the index as a string.
    public var names: [String]?

    public var anchorsPerLevel: Int {
        switch anchors {
        case .perLevel(let l): return (l.first?.count ?? 0) / 2
        case .count(let n): return n
        }
    }
}
