/// The activations YOLOv5 configs name (`activation: nn.LeakyReLU(0.1)`), and their lowering.
public enum Activation: Sendable, Equatable, CustomStringConvertible {
    case silu, relu, relu6, hardswish, sigmoid, tanh, identity
    case leakyRelu(Float)

    /// Parses `nn.SiLU()`, `nn.LeakyReLU(0.1)`, `torch.nn.ReLU()` (Ultralytics' yolov6.yaml), `ReLU`, ...
    public init?(pytorch text: String) {
        var s = text.trimmingCharacters(in: .whitespaces)
        if s.hasPrefix("torch.nn.") { s.removeFirst(9) } else if s.hasPrefix("nn.") { s.removeFirst(3) }
        var arg: String? = nil
        if let open = s.firstIndex(of: "("), s.hasSuffix(")") {
            let inner = s[s.index(after: open)..<s.index(before: s.endIndex)]
            let first = inner.split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            arg = first.hasPrefix("negative_slope=") ? String(first.dropFirst(15)) : first
            if arg?.hasPrefix("inplace") == true || arg == "" { arg = nil }
            s = String(s[..<open])
        }
        switch s {
        case "SiLU": self = .silu
        case "ReLU": self = .relu
        case "ReLU6": self = .relu6
        case "Hardswish": self = .hardswish
        case "Sigmoid": self = .sigmoid
        case "Tanh": self = .tanh
        case "Identity": self = .identity
        case "LeakyReLU":
            if let arg { guard let v = Float(arg) else { return nil }; self = .leakyRelu(v) } else { self = .leakyRelu(0.01) }
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .silu: return "SiLU"
        case .relu: return "ReLU"
        case .relu6: return "ReLU6"
        case .hardswish: return "Hardswish"
        case .sigmoid: return "Sigmoid"
        case .tanh: return "Tanh"
        case .identity: return "Identity"
        case .leakyRelu(let a): return "LeakyReLU(\(a))"
        }
    }

    /// Applies the activation under the scope `act` (YOLOv5's name for it; other blocks name it otherwise;
    /// nil for a layer that is the activation itself, such as a config's `nn.ReLU` row).
    public func lower(_ b: GraphBuilder, _ x: ValueID, scope: String? = "act") throws -> ValueID {
        if self == .identity { return x }
        guard let scope else { return try apply(b, x) }
        return try b.scoped(scope) { try apply(b, x) }
    }

    private func apply(_ b: GraphBuilder, _ x: ValueID) throws -> ValueID {
        switch self {
        case .silu: return try b.op("Mul", [x, try b.op("Sigmoid", [x])])
        case .relu: return try b.op("Relu", [x])
        case .relu6: return try b.op("Clip", [x, b.constant(scalar: 0), b.constant(scalar: 6)])
        case .hardswish: return try b.op("HardSwish", [x])
        case .sigmoid: return try b.op("Sigmoid", [x])
        case .tanh: return try b.op("Tanh", [x])
        case .leakyRelu(let a): return try b.op("LeakyRelu", [x], ["alpha": .float(a)])
        case .identity: return x
        }
    }
}

import Foundation
