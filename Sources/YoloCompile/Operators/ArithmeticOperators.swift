// Broadcasting arithmetic: the binary operators, the variadic ones (Sum, Mean, Max, Min), PRelu and
// the bitwise ones. Integer results wrap to the type's width, as two's complement arithmetic does.

extension Operators {
    static let arithmetic: [OperatorSchema] = [
        binary("Add", [1, 6, 7, 13, 14], Kernels.add),
        binary("Sub", [1, 6, 7, 13, 14], Kernels.sub),
        binary("Mul", [1, 6, 7, 13, 14], Kernels.mul),
        binary("Div", [1, 6, 7, 13, 14], Kernels.div),
        OperatorSchema("Pow", versions: [1, 7, 12, 13, 15], inputs: [.input("X", "T"), .input("Y", "T1")],
                       outputs: [.output("Z", "T")], types: ["T": .numeric, "T1": .numeric],
                       infer: broadcastRule, kernel: Kernels.pow),
        OperatorSchema("Mod", versions: [10, 13], attributes: [.int("fmod", 0)], inputs: [.input("A", "T"), .input("B", "T")],
                       outputs: [.output("C", "T")], types: ["T": .numeric], infer: modRule, kernel: Kernels.mod),
        OperatorSchema("PRelu", versions: [1, 6, 7, 9, 16], inputs: [.input("X", "T"), .input("slope", "T")],
                       outputs: [.output("Y", "T")], types: ["T": .numeric], infer: preluRule, kernel: Kernels.prelu),
        OperatorSchema("BitShift", versions: [11], attributes: [.init(name: "direction", kind: .string, defaultValue: nil, required: true, allowed: ["LEFT", "RIGHT"])],
                       inputs: [.input("X", "T"), .input("Y", "T")], outputs: [.output("Z", "T")],
                       types: ["T": .unsignedInts], infer: broadcastRule, kernel: Kernels.bitShift),
        bitwise("BitwiseAnd", Kernels.bitwiseAnd),
        bitwise("BitwiseOr", Kernels.bitwiseOr),
        bitwise("BitwiseXor", Kernels.bitwiseXor),
        OperatorSchema("BitwiseNot", versions: [18], inputs: [.input("X", "T")], outputs: [.output("Y", "T", shape: .sameAs(0))],
                       types: ["T": .ints], infer: nil, kernel: Kernels.bitwiseNot),
        variadic("Sum", [1, 6, 8, 13], .floats, Kernels.add),
        variadic("Mean", [1, 6, 8, 13], .floats, Kernels.mean),
        variadic("Max", [1, 6, 8, 12, 13], .numeric, Kernels.max),
        variadic("Min", [1, 6, 8, 12, 13], .numeric, Kernels.min),
    ]

    /// numpy broadcasting of two inputs of one type.
    static func binary(_ name: String, _ versions: [Int], _ kernel: @escaping Kernel) -> OperatorSchema {
        OperatorSchema(name, versions: versions, inputs: [.input("A", "T"), .input("B", "T")], outputs: [.output("C", "T")],
                       types: ["T": .numeric], infer: broadcastRule, kernel: kernel)
    }

    static func bitwise(_ name: String, _ kernel: @escaping Kernel) -> OperatorSchema {
        OperatorSchema(name, versions: [18], inputs: [.input("A", "T"), .input("B", "T")], outputs: [.output("C", "T")],
                       types: ["T": .ints], infer: broadcastRule, kernel: kernel)
    }

    /// One or more inputs broadcast together, combined left to right (`kernel` takes two).
    static func variadic(_ name: String, _ versions: [Int], _ types: TypeSet, _ kernel: @escaping Kernel) -> OperatorSchema {
        OperatorSchema(name, versions: versions, inputs: [.input("data_0", "T", .variadic(min: 1))], outputs: [.output(name.lowercased(), "T")],
                       types: ["T": types], infer: broadcastRule, kernel: Kernels.variadic(kernel, mean: name == "Mean"))
    }

    /// numpy broadcasting of every present input: sizes agree or are 1. Symbols carry through when
    /// both sides name the same one or the other side is 1.
    static func broadcastRule(_ ctx: ShapeContext) throws -> [TensorType] {
        var dims: [Dim]? = []
        for i in ctx.inputTypes.indices where ctx.has(i) {
            let t = try ctx.type(i)
            guard let d = t.dims, let acc = dims else { dims = nil; continue }
            guard let b = broadcastDims(acc, d) else {
                throw ctx.fail("cannot broadcast \(TensorType(t.dtype, dims: acc)) with \(t)")
            }
            dims = b
        }
        guard let d = ctx.outputDType(0) else { throw ctx.fail("no element type") }
        return [TensorType(d, dims: dims)]
    }

    /// Mod on floats is C's fmod; ONNX requires `fmod=1` for them.
    static func modRule(_ ctx: ShapeContext) throws -> [TensorType] {
        if try ctx.type(0).dtype.isFloat, ctx.attributes.int("fmod") != 1 {
            throw ctx.fail("attribute 'fmod' must be 1 for floating-point inputs (ONNX defines Mod on floats as fmod)")
        }
        return try broadcastRule(ctx)
    }

    /// The slope broadcasts to X (unidirectionally): the output is X's shape.
    static func preluRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let x = try ctx.type(0), s = try ctx.type(1)
        if let xs = x.staticShape, let ss = s.staticShape, ShapeRules.broadcast(xs, ss) != xs {
            throw ctx.fail("slope \(s) does not broadcast to \(x)")
        }
        return [x]
    }
}

/// numpy broadcasting of two dimension lists; nil when they are incompatible.
public func broadcastDims(_ a: [Dim], _ b: [Dim]) -> [Dim]? {
    let n = max(a.count, b.count)
    var out = [Dim](repeating: .value(1), count: n)
    for i in 0..<n {
        let x = i < n - a.count ? Dim.value(1) : a[i - (n - a.count)]
        let y = i < n - b.count ? Dim.value(1) : b[i - (n - b.count)]
        switch (x, y) {
        case (.value(let p), .value(let q)):
            if p == q || q == 1 { out[i] = x } else if p == 1 { out[i] = y } else { return nil }
        case (.value(1), _): out[i] = y
        case (_, .value(1)): out[i] = x
        case (.symbol(let p), .symbol(let q)) where p == q: out[i] = x
        default: out[i] = .unknown
        }
    }
    return out
}
