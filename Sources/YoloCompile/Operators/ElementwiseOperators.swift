import Foundation

// Unary elementwise operators: math functions, activations, Cast, Identity, Dropout, Clip. Each
// output has its input's shape; float functions compute float16 in float32 and round once.

extension Operators {
    static let elementwise: [OperatorSchema] = [
        floatUnary("Exp", [1, 6, 13], { expf($0) }, { exp($0) }, io: ("input", "output")),
        floatUnary("Log", [1, 6, 13], { logf($0) }, { log($0) }, io: ("input", "output")),
        floatUnary("Sqrt", [1, 6, 13], { sqrtf($0) }, { sqrt($0) }),
        floatUnary("Reciprocal", [1, 6, 13], { 1 / $0 }, { 1 / $0 }),
        floatUnary("Tanh", [1, 6, 13], { tanhf($0) }, { tanh($0) }, io: ("input", "output")),
        OperatorSchema("Erf", versions: [9, 13], inputs: [.input("input", "T")],
                       outputs: [.output("output", "T", shape: .sameAs(0))], types: ["T": .floats], infer: nil,
                       kernel: Kernels.erf),
        floatUnary("Floor", [1, 6, 13], { $0.rounded(.down) }, { $0.rounded(.down) }),
        floatUnary("Ceil", [1, 6, 13], { $0.rounded(.up) }, { $0.rounded(.up) }),
        floatUnary("Round", [11], { $0.rounded(.toNearestOrEven) }, { $0.rounded(.toNearestOrEven) }),
        floatUnary("Sin", [7], { sinf($0) }, { sin($0) }, io: ("input", "output")),
        floatUnary("Cos", [7], { cosf($0) }, { cos($0) }, io: ("input", "output")),
        floatUnary("Tan", [7], { tanf($0) }, { tan($0) }, io: ("input", "output")),
        floatUnary("Asin", [7], { asinf($0) }, { asin($0) }, io: ("input", "output")),
        floatUnary("Acos", [7], { acosf($0) }, { acos($0) }, io: ("input", "output")),
        floatUnary("Atan", [7], { atanf($0) }, { atan($0) }, io: ("input", "output")),
        floatUnary("Sinh", [9], { sinhf($0) }, { sinh($0) }, io: ("input", "output")),
        floatUnary("Cosh", [9], { coshf($0) }, { cosh($0) }, io: ("input", "output")),
        floatUnary("Asinh", [9], { asinhf($0) }, { asinh($0) }, io: ("input", "output")),
        floatUnary("Acosh", [9], { acoshf($0) }, { acosh($0) }, io: ("input", "output")),
        floatUnary("Atanh", [9], { atanhf($0) }, { atanh($0) }, io: ("input", "output")),
        // log(1 + e^x) without overflow: x + log1p(e^-x) for x > 0.
        floatUnary("Softplus", [1], { $0 > 0 ? $0 + log1pf(expf(-$0)) : log1pf(expf($0)) },
                   { $0 > 0 ? $0 + log1p(exp(-$0)) : log1p(exp($0)) }),
        floatUnary("Softsign", [1], { $0 / (1 + abs($0)) }, { $0 / (1 + abs($0)) }, io: ("input", "output")),
        floatUnary("Mish", [18], { $0 * tanhf($0 > 0 ? $0 + log1pf(expf(-$0)) : log1pf(expf($0))) },
                   { $0 * tanh($0 > 0 ? $0 + log1p(exp(-$0)) : log1p(exp($0))) }),
        // x * max(0, min(1, alpha * x + beta)), alpha = 1/6 and beta = 0.5 as the specification writes it (alpha a
        // float in float32, as activation.c's fused pass computes it).
        floatUnary("HardSwish", [14], { $0 * min(max($0 * (1 / 6 as Float) + 0.5, 0), 1) }, { $0 * min(max($0 / 6 + 0.5, 0), 1) }),
        OperatorSchema("Sigmoid", versions: [1, 6, 13], inputs: [.input("X", "T")],
                       outputs: [.output("Y", "T", shape: .sameAs(0))], types: ["T": .floats], infer: nil,
                       kernel: Kernels.sigmoid),
        floatUnaryWithAttributes("LeakyRelu", [1, 6, 16], [.float("alpha", 0.01)]) { a in
            let alpha = Double(a.float("alpha"))
            return { $0 >= 0 ? $0 : $0 * alpha }
        },
        floatUnaryWithAttributes("Elu", [1, 6], [.float("alpha", 1)]) { a in
            let alpha = Double(a.float("alpha"))
            return { $0 >= 0 ? $0 : alpha * expm1($0) }
        },
        floatUnaryWithAttributes("Selu", [1, 6], [.float("alpha", 1.67326319217681884765625), .float("gamma", 1.05070102214813232421875)]) { a in
            let alpha = Double(a.float("alpha")), gamma = Double(a.float("gamma"))
            return { $0 > 0 ? gamma * $0 : gamma * alpha * expm1($0) }
        },
        floatUnaryWithAttributes("Celu", [12], [.float("alpha", 1)]) { a in
            let alpha = Double(a.float("alpha"))
            return { $0.isNaN ? $0 : max(0, $0) + min(0, alpha * expm1($0 / alpha)) }
        },
        floatUnaryWithAttributes("HardSigmoid", [1, 6], [.float("alpha", 0.2), .float("beta", 0.5)]) { a in
            let alpha = Double(a.float("alpha")), beta = Double(a.float("beta"))
            return { min(max(alpha * $0 + beta, 0), 1) }
        },
        floatUnaryWithAttributes("ThresholdedRelu", [10], [.float("alpha", 1)]) { a in
            let alpha = Double(a.float("alpha"))
            return { $0 > alpha ? $0 : 0 }
        },
        floatUnaryWithAttributes("Gelu", [20], [.string("approximate", "none", allowed: ["none", "tanh"])]) { a in
            if a.string("approximate") == "tanh" {
                return { 0.5 * $0 * (1 + tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }
            }
            return { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }
        },
        OperatorSchema("Relu", versions: [1, 6, 13, 14], inputs: [.input("X", "T")],
                       outputs: [.output("Y", "T", shape: .sameAs(0))], types: ["T": .signedNumeric], infer: nil,
                       kernel: Kernels.relu),
        OperatorSchema("Abs", versions: [1, 6, 13], inputs: [.input("X", "T")],
                       outputs: [.output("Y", "T", shape: .sameAs(0))], types: ["T": .numeric], infer: nil,
                       kernel: Kernels.abs),
        OperatorSchema("Neg", versions: [1, 6, 13], inputs: [.input("X", "T")],
                       outputs: [.output("Y", "T", shape: .sameAs(0))], types: ["T": .signedNumeric], infer: nil,
                       kernel: Kernels.neg),
        OperatorSchema("Sign", versions: [9, 13], inputs: [.input("input", "T")],
                       outputs: [.output("output", "T", shape: .sameAs(0))], types: ["T": .numeric], infer: nil,
                       kernel: Kernels.sign),
        OperatorSchema("Shrink", versions: [9], attributes: [.float("bias", 0), .float("lambd", 0.5)],
                       inputs: [.input("input", "T")], outputs: [.output("output", "T", shape: .sameAs(0))],
                       types: ["T": .numeric], infer: nil, kernel: Kernels.shrink),
        OperatorSchema("IsNaN", versions: [9, 13, 20], inputs: [.input("X", "T1")],
                       outputs: [.output("Y", .bool, shape: .sameAs(0))], types: ["T1": .floats], infer: nil,
                       kernel: Kernels.isNaN),
        OperatorSchema("IsInf", versions: [10, 20], attributes: [.int("detect_negative", 1), .int("detect_positive", 1)],
                       inputs: [.input("X", "T1")], outputs: [.output("Y", .bool, shape: .sameAs(0))],
                       types: ["T1": .floats], infer: nil, kernel: Kernels.isInf),
        OperatorSchema("Clip", versions: [1, 6, 11, 12, 13], inputs: [.input("input", "T"), .input("min", "T", .optional), .input("max", "T", .optional)],
                       outputs: [.output("output", "T", shape: .sameAs(0))], types: ["T": .numeric], infer: clipRule,
                       kernel: Kernels.clip),
        with(OperatorSchema("Identity", versions: [1, 13, 14, 16, 19, 21], inputs: [.input("input", "T")],
                            outputs: [.output("output", "T", shape: .sameAs(0))], types: ["T": .all], infer: nil,
                            kernel: { ctx in [try ctx.input(0)] })) {
            $0.traits = .relayout
            $0.isIdentity = { _ in true }
        },
        with(OperatorSchema("Dropout", versions: [1, 6, 7, 10, 12, 13],
                            attributes: [.int("seed")],
                            inputs: [.input("data", "T"), .value("ratio", "T1", .optional), .value("training_mode", "T2", .optional)],
                            outputs: [.output("output", "T", shape: .sameAs(0)), .output("mask", .bool, .optional, shape: .sameAs(0))],
                            types: ["T": .floats, "T1": .floats, "T2": .bool], infer: dropoutRule, kernel: Kernels.dropout)) {
            // An identity in inference: no mask asked for, and training_mode absent or a constant false.
            $0.isIdentity = { q in
                q.outputTypes.count == 1 && (q.node.inputs.count < 3 || q.node.inputs[2] == nil || q.constants[2]?.ints.first == 0)
            }
        },
        OperatorSchema("Cast", versions: [1, 6, 9, 13, 19, 21], attributes: [.requiredInt("to"), .int("saturate", 1)],
                       inputs: [.input("input", "T1")],
                       outputs: [OutputSpec(name: "output", type: .attributeCode("to", fallback: nil), presence: .required, shape: .sameAs(0))],
                       types: ["T1": .all], infer: castRule, kernel: Kernels.cast),
        OperatorSchema("CastLike", versions: [15, 19, 21], attributes: [.int("saturate", 1)],
                       inputs: [.input("input", "T1"), .input("target_type", "T2")],
                       outputs: [.output("output", "T2", shape: .sameAs(0))],
                       types: ["T1": .all, "T2": .all], infer: nil, kernel: Kernels.castLike),
    ]

    /// A float-only unary function: Float for float32 and float16 (rounded after), Double for float64.
    static func floatUnary(_ name: String, _ versions: [Int], _ f: @escaping @Sendable (Float) -> Float,
                           _ d: @escaping @Sendable (Double) -> Double, io: (String, String) = ("X", "Y")) -> OperatorSchema {
        OperatorSchema(name, versions: versions, inputs: [.input(io.0, "T")], outputs: [.output(io.1, "T", shape: .sameAs(0))],
                       types: ["T": .floats], infer: nil, kernel: Kernels.floatUnary(f, d))
    }

    /// A float-only unary function of its attributes, computed in Double (float32 rounds once).
    static func floatUnaryWithAttributes(_ name: String, _ versions: [Int], _ attributes: [AttributeSpec],
                                         _ make: @escaping @Sendable (AttributeView) -> @Sendable (Double) -> Double) -> OperatorSchema {
        OperatorSchema(name, versions: versions, attributes: attributes, inputs: [.input("X", "T")],
                       outputs: [.output("Y", "T", shape: .sameAs(0))], types: ["T": .floats], infer: nil,
                       kernel: Kernels.floatUnaryDouble(make))
    }

    /// min and max are scalars (a one-element tensor is accepted, as exporters write them).
    static func clipRule(_ ctx: ShapeContext) throws -> [TensorType] {
        for i in 1..<3 where ctx.has(i) {
            if let s = try ctx.type(i).staticShape, s.reduce(1, *) != 1 {
                throw ctx.fail("input \(i) ('\(i == 1 ? "min" : "max")') must be a scalar, got \(try ctx.type(i))")
            }
        }
        return [try ctx.declaredOutput(0)]
    }

    /// Inference, or training mode with a ratio of 0 (nothing dropped); otherwise training mode draws
    /// random numbers and is refused: here when the inputs are constants, else when the model runs.
    static func dropoutRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let training = ctx.has(2) ? (try? ctx.value(2)) : nil
        let ratio = ctx.has(1) ? (try? ctx.value(1)) : nil
        if let training, let ratio { try dropoutIsDeterministic(training: training, ratio: ratio, fail: ctx.fail) }
        if let training, training.ints.first != 0, !ctx.has(1) { try dropoutIsDeterministic(training: training, ratio: .scalar(0.5), fail: ctx.fail) }
        if ctx.has(1), let r = try? ctx.value(1), r.count != 1 {
            throw ctx.fail("input 1 ('ratio') must be a scalar")
        }
        return try (0..<ctx.outputCount).map { try ctx.declaredOutput($0) }
    }

    static func dropoutIsDeterministic(training: Tensor, ratio: Tensor, fail: (String) -> any Error) throws {
        guard training.count == 1, ratio.count == 1 else { throw fail("inputs 1 ('ratio') and 2 ('training_mode') must be scalars") }
        guard training.ints[0] == 0 || ratio.doubleValues[0] == 0 else {
            throw fail("input 2 ('training_mode') is true with ratio \(ratio.doubleValues[0]): training mode drops at random, which yolo-compile does not run")
        }
    }

    static func castRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let to = ctx.attributes.int("to")
        guard DType(onnxCode: to) != nil else {
            throw ctx.fail("attribute 'to' is \(onnxTypeName(to)), which yolo-compile does not compute (it takes \(DType.allCases.map(\.onnxName).joined(separator: ", ")))")
        }
        return [try ctx.declaredOutput(0)]
    }

    /// A schema with some properties set after the initialiser.
    static func with(_ s: OperatorSchema, _ edit: (inout OperatorSchema) -> Void) -> OperatorSchema {
        var s = s
        edit(&s)
        return s
    }
}

/// The name of an ONNX TensorProto.DataType code, for messages about types yolo-compile does not take.
public func onnxTypeName(_ code: Int) -> String {
    let names = [0: "undefined", 1: "float", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
                 8: "string", 9: "bool", 10: "float16", 11: "double", 12: "uint32", 13: "uint64", 14: "complex64",
                 15: "complex128", 16: "bfloat16", 17: "float8e4m3fn", 18: "float8e4m3fnuz", 19: "float8e5m2",
                 20: "float8e5m2fnuz", 21: "uint4", 22: "int4", 23: "float4e2m1"]
    return names[code] ?? "type code \(code)"
}
