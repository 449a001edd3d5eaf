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
    /// Mul(Mul(x, Add(Erf(Div(x, divisor)), one)), half): GELU as torch.onnx writes it (after a MatMul).
    case gelu(divisor: Float, one: Float, half: Float)

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
        case .gelu: return "GELU"
        }
    }

    private var kernel: (yc_activation, Float, Float, Float) {
        switch self {
        case .identity: return (YC_IDENTITY, 0, 0, 0)
        case .relu: return (YC_RELU, 0, 0, 0)
        case .leakyRelu(let alpha): return (YC_LEAKY_RELU, alpha, 0, 0)
        case .sigmoid: return (YC_SIGMOID, 0, 0, 0)
        case .silu: return (YC_SILU, 0, 0, 0)
        case .hardSwish: return (YC_HARD_SWISH, 0, 0, 0)
        case .hardSigmoidMul(let alpha, let beta): return (YC_HARD_SIGMOID_MUL, alpha, beta, 0)
        case .clip(let lo, let hi): return (YC_CLIP, lo, hi, 0)
        case .gelu(let d, let one, let half): return (YC_GELU, d, one, half)
        }
    }

    /// y = activation(y + bias) over `rows` rows of `n` floats in place, the bias a vector along the
    /// row (a Linear layer's), or none.
    func applyRows(_ y: UnsafeMutablePointer<Float>, rows: Int, n: Int, bias: UnsafePointer<Float>?) {
        let (kind, a, b, c) = kernel
        yc_rows_bias_activation(y, rows, n, bias, kind, a, b, c)
    }

    /// The output pass the direct and depthwise convolutions apply in C, bias[o] added to output channel
    /// o (none when nil).
    func outputPass(bias: UnsafePointer<Float>?) -> yc_output_pass {
        let (kind, a, b, c) = kernel
        return yc_output_pass(bias: bias, act: kind, alpha: a, beta: b, gamma: c)
    }

    /// y = activation(y + bias) over `count` floats in place (no bias when nil).
    func apply(_ y: UnsafeMutablePointer<Float>, count: Int, bias: Float?) {
        if case .identity = self, bias == nil { return }
        let (kind, a, b, c) = kernel
        yc_bias_activation(y, count, bias ?? 0, bias == nil ? 0 : 1, kind, a, b, c)
    }
}
