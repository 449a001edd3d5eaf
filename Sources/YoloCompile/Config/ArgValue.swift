import Foundation

/// A value in a layer row's `args`, after YOLOv5's `eval` of strings: names such as `nc`, `anchors`,
/// `None`, `True` resolve; anything else that is not a number stays a string (`nearest`).
public indirect enum ArgValue: Sendable, Equatable, CustomStringConvertible {
    case int(Int)
    case float(Double)
    case bool(Bool)
    case none
    case string(String)
    case list([ArgValue])

    /// Python's repr, as YOLOv5's summary prints arguments.
    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .float(let v): return pythonFloat(v)
        case .bool(let v): return v ? "True" : "False"
        case .none: return "None"
        case .string(let s): return "'\(s)'"
        case .list(let l): return "[" + l.map(\.description).joined(separator: ", ") + "]"
        }
    }

    public var intValue: Int? {
        if case .int(let v) = self { return v }
        return nil
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .float(let v): return v
        default: return nil
        }
    }
}

func pythonFloat(_ v: Double) -> String {
    if v == v.rounded(), abs(v) < 1e15 { return String(format: "%.1f", v) }
    return "\(v)"
}
