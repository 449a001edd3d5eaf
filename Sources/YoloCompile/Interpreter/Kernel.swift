/// What a kernel sees: the node, its input tensors (nil for absent optional inputs) and the output
/// types the shape rules inferred.
public struct KernelContext {
    public let node: Node
    public let inputs: [Tensor?]
    public let outputTypes: [TensorType]

    func fail(_ message: String) -> InterpreterError { InterpreterError(node: node.name, message: message) }

    func input(_ i: Int) throws -> Tensor {
        guard i < inputs.count, let t = inputs[i] else { throw fail("missing input \(i)") }
        return t
    }

    func optional(_ i: Int) -> Tensor? { i < inputs.count ? inputs[i] : nil }
}

public typealias Kernel = @Sendable (KernelContext) throws -> [Tensor]

/// The interpreter's kernels, one per operator, in files by family under Kernels/.
public enum Kernels {
    public static let table: [String: Kernel] = {
        var t: [String: Kernel] = [:]
        registerConvolution(&t)
        registerPooling(&t)
        registerElementwise(&t)
        registerNormalization(&t)
        registerLayerNormalization(&t)
        registerMatMul(&t)
        registerGemm(&t)
        registerConvTranspose(&t)
        registerReduction(&t)
        registerDataMovement(&t)
        return t
    }()

    public static func run(_ ctx: KernelContext) throws -> [Tensor] {
        guard let k = table[ctx.node.op] else { throw ctx.fail("no kernel for \(ctx.node.op)") }
        return try k(ctx)
    }
}
