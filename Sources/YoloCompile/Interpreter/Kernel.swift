/// What a kernel sees: the node, its decoded attributes (the same view its shape rule saw), its input
/// tensors (nil for absent optional inputs) and the output types inferred for these inputs.
public struct KernelContext {
    public let node: Node
    public let attributes: AttributeView
    public let inputs: [Tensor?]
    public let outputTypes: [TensorType]
    /// How messages name the node (its name, or for an unnamed one its first output).
    public let label: String
    /// The activation the interpreter fused into this node (a Conv's; `OutputPassFusion`): the
    /// kernel applies it to its output, whose type is then the activation's.
    public let activation: FusedActivation
    /// The threads the kernel may split its work across (`KernelThreads`).
    public let threads: Int
    /// Input 0, when the interpreter hands it over (its last use, held nowhere else): `takeInput`.
    let handedOver: HandedOverInput?

    public init(node: Node, attributes: AttributeView, inputs: [Tensor?], outputTypes: [TensorType], label: String? = nil,
                activation: FusedActivation = .identity, threads: Int = KernelThreads.count) {
        self.init(node: node, attributes: attributes, inputs: inputs, outputTypes: outputTypes, label: label, activation: activation,
                  threads: threads, handedOver: nil)
    }

    init(node: Node, attributes: AttributeView, inputs: [Tensor?], outputTypes: [TensorType], label: String?,
         activation: FusedActivation, threads: Int, handedOver: HandedOverInput?) {
        self.handedOver = handedOver
        self.node = node
        self.attributes = attributes
        self.inputs = inputs
        self.outputTypes = outputTypes
        self.label = label ?? node.name
        self.activation = activation
        self.threads = threads
    }

    public func fail(_ message: String) -> InterpreterError { InterpreterError(node: label, op: node.op, message: message) }

    public func input(_ i: Int) throws -> Tensor {
        guard i < inputs.count, let t = inputs[i] else { throw fail("missing input \(i)") }
        return t
    }

    public func optional(_ i: Int) -> Tensor? { i < inputs.count ? inputs[i] : nil }

    /// Input `i`, for a kernel that writes its output over it (`OperatorTraits.reusesInput`): input 0
    /// handed over by the interpreter is taken out (the caller then holds its only reference, so
    /// mutating it copies nothing); any other input is `input(i)`, and mutating it copies it.
    public func takeInput(_ i: Int) throws -> Tensor {
        if i == 0, let t = handedOver?.take() { return t }
        return try input(i)
    }

    /// Output `i`'s static shape (every kernel but the data-dependent ones runs with it known).
    public func outputShape(_ i: Int = 0) throws -> [Int] {
        guard i < outputTypes.count, let s = outputTypes[i].staticShape else { throw fail("output \(i)'s shape is not known") }
        return s
    }

    public func outputDType(_ i: Int = 0) -> DType { outputTypes[i].dtype }
}

public typealias Kernel = @Sendable (KernelContext) throws -> [Tensor]

/// A tensor the interpreter hands to a kernel at its last use (`KernelContext.takeInput`).
final class HandedOverInput {
    private var tensor: Tensor?
    init(_ tensor: Tensor) { self.tensor = tensor }
    func take() -> Tensor? { defer { tensor = nil }; return tensor }
}
