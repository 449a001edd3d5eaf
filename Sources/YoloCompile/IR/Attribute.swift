/// A typed operator attribute, as ONNX has them.
public enum Attribute: Sendable, Equatable, CustomStringConvertible {
    case int(Int)
    case ints([Int])
    case float(Float)
    case floats([Float])
    case string(String)
    case tensor(Tensor)

    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .ints(let v): return "[" + v.map(String.init).joined(separator: ",") + "]"
        case .float(let v): return formatFloat(v)
        case .floats(let v): return "[" + v.map(formatFloat).joined(separator: ",") + "]"
        case .string(let v): return "\"\(v)\""
        case .tensor(let t): return "tensor<\(t.type)>"
        }
    }
}

/// Shortest decimal that reads back to the same Float.
func formatFloat(_ v: Float) -> String { "\(v)" }
