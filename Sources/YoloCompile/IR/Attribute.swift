/// A typed operator attribute, as ONNX has them.
public enum Attribute: Sendable, Equatable, CustomStringConvertible {
    case int(Int)
    case ints([Int])
    case float(Float)
    case floats([Float])
    case string(String)
    case strings([String])
    case tensor(Tensor)

    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .ints(let v): return "[" + v.map(String.init).joined(separator: ",") + "]"
        case .float(let v): return formatFloat(v)
        case .floats(let v): return "[" + v.map(formatFloat).joined(separator: ",") + "]"
        case .string(let v): return "\"\(v)\""
        case .strings(let v): return "[" + v.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        case .tensor(let t): return "tensor<\(t.type)>"
        }
    }

    /// The ONNX attribute type's name, for messages.
    public var kindName: String {
        switch self {
        case .int: return "int"
        case .ints: return "ints"
        case .float: return "float"
        case .floats: return "floats"
        case .string: return "string"
        case .strings: return "strings"
        case .tensor: return "tensor"
        }
    }
}

/// Shortest decimal that reads back to the same Float.
func formatFloat(_ v: Float) -> String { "\(v)" }
