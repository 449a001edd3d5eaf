import CKernels

/// An activation a convolution applies in its output pass, while each block of its output is in
/// cache, instead of as nodes of its own over the whole tensor. Each case computes exactly what the
/// operators it stands for compute one after the other (Sources/CKernels/activation.c), so a fused
/// run gives the same bits as an unfused one.
public enum FusedActivation: Sendable, Equatable {
    case identity
    case relu
    case leakyRelu(alpha: Float)
    case sigmoid
    /// Mul(x, Sigmoid(x)): YOLOv5's and Ultralytics' SiLU, as torch.onnx writes it.
    case silu
    case hardSwish
    /// Mul(x, HardSigmoid(x)): HardSwish as opsets before 14 (and the `hardswish-as-hardsigmoid` pass) write it.
    case hardSigmoidMul(alpha: Float, beta: Float)
    case clip(lo: Float, hi: Float)

    /// How profiles name a convolution with this activation: "Conv+SiLU".
    public var name: String {
        switch self {
        case .identity: return ""
        case .relu: return "Relu"
        case .leakyRelu: return "LeakyRelu"
        case .sigmoid: return "Sigmoid"
        case .silu: return "SiLU"
        case .hardSwish: return "HardSwish"
        case .hardSigmoidMul: return "HardSigmoid*x"
        case .clip: return "Clip"
        }
    }

    /// y = activation(y + bias) over `count` floats in place (no bias when nil).
    func apply(_ y: UnsafeMutablePointer<Float>, count: Int, bias: Float?) {
        let (kind, a, b): (yc_activation, Float, Float)
        switch self {
        case .identity:
            guard bias != nil else { return }
            (kind, a, b) = (YC_IDENTITY, 0, 0)
        case .relu: (kind, a, b) = (YC_RELU, 0, 0)
        case .leakyRelu(let alpha): (kind, a, b) = (YC_LEAKY_RELU, alpha, 0)
        case .sigmoid: (kind, a, b) = (YC_SIGMOID, 0, 0)
        case .silu: (kind, a, b) = (YC_SILU, 0, 0)
        case .hardSwish: (kind, a, b) = (YC_HARD_SWISH, 0, 0)
        case .hardSigmoidMul(let alpha, let beta): (kind, a, b) = (YC_HARD_SIGMOID_MUL, alpha, beta)
        case .clip(let lo, let hi): (kind, a, b) = (YC_CLIP, lo, hi)
        }
        yc_bias_activation(y, count, bias ?? 0, bias == nil ? 0 : 1, kind, a, b)
    }
}
