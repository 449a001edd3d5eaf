/// One declaration per operator: what ONNX versions it implements, its attributes (types and
/// defaults), inputs and outputs with their element types, its shape rule and its kernel, and what
/// passes need to know of it. The reader, shape inference, the interpreter, the verifier and the
/// passes all read this one table (`Operators.registry`); nothing else lists operator names.
///
///     OperatorSchema("Softmax", versions: [1, 11, 13],
///                    attributes: [.int("axis", -1)],
///                    inputs: [.input("input", "T")], outputs: [.output("output", "T", shape: .sameAs(0))],
///                    types: ["T": .floats], infer: nil, kernel: Kernels.softmax)
public struct OperatorSchema: Sendable {
    public let name: String
    /// The ONNX versions (since_version) whose semantics this declaration implements; older spellings
    /// are rewritten to the newest by `OpsetLegalization` on import. A file's opset is accepted when the
    /// operator's version in effect at that opset is one of these (`acceptsOpset`).
    public let versions: [Int]
    public let attributes: [AttributeSpec]
    public let inputs: [InputSpec]
    public let outputs: [OutputSpec]
    /// Type constraints by letter (ONNX's `T`, `T1`, ...): the element types each allows.
    public let types: [String: TypeSet]
    /// nil when every output's shape is declared by its `OutputSpec` (`.sameAs`).
    public let rule: ShapeRule?
    public let kernel: Kernel
    public var traits: OperatorTraits = []
    /// The opset at which ONNX removed the operator (Upsample at 10), if it did.
    public var removedAt: Int? = nil
    /// True when an identity: the node returns its first input unchanged (identity elimination).
    public var isIdentity: (@Sendable (IdentityQuery) -> Bool)? = nil
    /// Floating-point operations as YOLOv5's model_info counts them with thop (see `graphFLOPs`).
    public var flops: (@Sendable (FlopQuery) -> Double)? = nil
    /// The output's value from the input types alone (Shape, Size), when those are static.
    public var valueFromTypes: (@Sendable ([TensorType?], AttributeView) -> Tensor?)? = nil
    /// Multiply-adds one run costs (for the folding budget); nil: one per input and output element.
    public var multiplyAdds: (@Sendable ([TensorType], [TensorType], AttributeView) -> Double)? = nil
    /// Elements of working memory the kernel allocates beyond its outputs (im2col columns, tap
    /// maps), for the interpreter's memory limit; nil: none worth counting.
    public var scratchElements: (@Sendable ([TensorType], [TensorType], AttributeView) -> Double)? = nil

    public init(_ name: String, versions: [Int], attributes: [AttributeSpec] = [], inputs: [InputSpec],
                outputs: [OutputSpec], types: [String: TypeSet], infer rule: ShapeRule?, kernel: @escaping Kernel) {
        self.name = name
        self.versions = versions
        self.attributes = attributes
        self.inputs = inputs
        self.outputs = outputs
        self.types = types
        self.rule = rule
        self.kernel = kernel
    }

    public func attribute(_ name: String) -> AttributeSpec? { attributes.first { $0.name == name } }

    /// Whether a file importing `opset` of the default domain gets a version of this operator that
    /// this declaration implements: the newest of ONNX's versions at or below `opset` is ours.
    /// (`versions` lists every ONNX version from the first we read up to `Opset.newestRead`.)
    public func acceptsOpset(_ opset: Int) -> Bool {
        guard let first = versions.first else { return false }
        return opset >= first && opset <= Opset.newestRead && opset < (removedAt ?? Int.max)
    }

    /// The fewest and most inputs a node may have.
    public var inputArity: ClosedRange<Int> { Self.arity(inputs.map(\.presence)) }
    public var outputArity: ClosedRange<Int> { Self.arity(outputs.map(\.presence)) }

    static func arity(_ presences: [InputSpec.Presence]) -> ClosedRange<Int> {
        var lo = 0, hi = 0
        for (i, p) in presences.enumerated() {
            switch p {
            case .required: lo = i + 1; hi = i + 1
            case .optional: hi = i + 1
            case .variadic(let min): lo = i + min; hi = Int.max
            }
        }
        return lo...max(lo, hi)
    }

    /// The spec of input `i` (the last one repeats when it is variadic).
    public func inputSpec(_ i: Int) -> InputSpec? {
        if i < inputs.count { return inputs[i] }
        if let last = inputs.last, case .variadic = last.presence { return last }
        return nil
    }

    public func outputSpec(_ i: Int) -> OutputSpec? {
        if i < outputs.count { return outputs[i] }
        if let last = outputs.last, case .variadic = last.presence { return last }
        return nil
    }
}

/// What the passes may assume of an operator.
public struct OperatorTraits: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// Folding it over a trained parameter gives the same numbers in another layout (a Linear weight's
    /// Transpose, a slice of in_proj_weight): the result stays a parameter, so counts survive folding.
    public static let relayout = OperatorTraits(rawValue: 1)
    /// Its result depends on more than its inputs (random generators): never folded.
    public static let nondeterministic = OperatorTraits(rawValue: 2)
    /// Its output's shape depends on its input values (NonZero, NonMaxSuppression): known only at run time.
    public static let dataDependentShape = OperatorTraits(rawValue: 4)
    /// Its kernel writes its output over input 0 when the interpreter hands that input over at its last
    /// use (`KernelContext.takeInput`), so the two never both take memory (Softmax of an attention matrix).
    public static let reusesInput = OperatorTraits(rawValue: 8)
}

/// What identity elimination shows a schema's `isIdentity`.
public struct IdentityQuery {
    public let node: Node
    public let attributes: AttributeView
    public let inputTypes: [TensorType?]
    public let outputTypes: [TensorType]
    public let constants: [Tensor?]
}

/// What `graphFLOPs` shows a schema's `flops`.
public struct FlopQuery {
    public let node: Node
    public let attributes: AttributeView
    public let inputTypes: [TensorType?]
    public let outputTypes: [TensorType]
    /// Whether each input is fixed (a constant, or computed from constants only): a MatMul by a fixed
    /// matrix is an nn.Linear.
    public let inputIsFixed: [Bool]
}

// MARK: - Attributes, inputs, outputs

/// A declared attribute: name, type, and default (nil: optional without default, or required).
public struct AttributeSpec: Sendable {
    public enum Kind: String, Sendable { case int, ints, float, floats, string, strings, tensor }

    public let name: String
    public let kind: Kind
    public let defaultValue: Attribute?
    public let required: Bool
    /// For strings: the values the operator defines; any other is refused.
    public let allowed: [String]?

    public init(name: String, kind: Kind, defaultValue: Attribute?, required: Bool = false, allowed: [String]? = nil) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.required = required
        self.allowed = allowed
    }

    public static func int(_ name: String, _ d: Int) -> AttributeSpec { .init(name: name, kind: .int, defaultValue: .int(d)) }
    public static func int(_ name: String) -> AttributeSpec { .init(name: name, kind: .int, defaultValue: nil) }
    public static func requiredInt(_ name: String) -> AttributeSpec { .init(name: name, kind: .int, defaultValue: nil, required: true) }
    public static func ints(_ name: String) -> AttributeSpec { .init(name: name, kind: .ints, defaultValue: nil) }
    public static func requiredInts(_ name: String) -> AttributeSpec { .init(name: name, kind: .ints, defaultValue: nil, required: true) }
    public static func float(_ name: String, _ d: Float) -> AttributeSpec { .init(name: name, kind: .float, defaultValue: .float(d)) }
    public static func float(_ name: String) -> AttributeSpec { .init(name: name, kind: .float, defaultValue: nil) }
    public static func floats(_ name: String) -> AttributeSpec { .init(name: name, kind: .floats, defaultValue: nil) }
    public static func string(_ name: String, _ d: String, allowed: [String]) -> AttributeSpec {
        .init(name: name, kind: .string, defaultValue: .string(d), allowed: allowed)
    }
    public static func tensor(_ name: String) -> AttributeSpec { .init(name: name, kind: .tensor, defaultValue: nil) }
}

public struct InputSpec: Sendable {
    public enum Presence: Sendable, Equatable { case required, optional, variadic(min: Int) }
    public let name: String
    /// The type constraint letter (a key of the schema's `types`).
    public let type: String
    public let presence: Presence
    /// The shape rule reads this input's values (a shape, axes, sizes): the output's shape is known
    /// before the model runs only when this input is a constant.
    public let readsValue: Bool

    public static func input(_ name: String, _ type: String, _ presence: Presence = .required) -> InputSpec {
        InputSpec(name: name, type: type, presence: presence, readsValue: false)
    }
    /// An input whose values the shape rule reads.
    public static func value(_ name: String, _ type: String, _ presence: Presence = .required) -> InputSpec {
        InputSpec(name: name, type: type, presence: presence, readsValue: true)
    }
}

public struct OutputSpec: Sendable {
    public enum ElementType: Sendable {
        /// The type of the inputs constrained by this letter (or, for a letter no input has, the rule's).
        case constraint(String)
        case fixed(DType)
        /// The ONNX type code in this int attribute (Cast's `to`); when the attribute is absent, the
        /// type of the inputs constrained by `fallback`.
        case attributeCode(String, fallback: String?)
        /// The element type of the tensor in this attribute (ConstantOfShape's `value`), else `default`.
        case attributeTensor(String, default: DType)
    }
    public enum Shape: Sendable { case rule, sameAs(Int) }

    public let name: String
    public let type: ElementType
    public let presence: InputSpec.Presence
    public let shape: Shape

    public static func output(_ name: String, _ type: String, _ presence: InputSpec.Presence = .required,
                              shape: Shape = .rule) -> OutputSpec {
        OutputSpec(name: name, type: .constraint(type), presence: presence, shape: shape)
    }
    public static func output(_ name: String, _ type: DType, _ presence: InputSpec.Presence = .required,
                              shape: Shape = .rule) -> OutputSpec {
        OutputSpec(name: name, type: .fixed(type), presence: presence, shape: shape)
    }
}

/// A set of element types.
public struct TypeSet: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ types: [DType]) {
        self.rawValue = types.reduce(0) { $0 | TypeSet.bit($1) }
    }

    static func bit(_ t: DType) -> UInt32 { 1 << UInt32(DType.allCases.firstIndex(of: t) ?? 0) }
    public func allows(_ t: DType) -> Bool { rawValue & TypeSet.bit(t) != 0 }
    public var members: [DType] { DType.allCases.filter(allows) }

    public static let float32 = TypeSet([.float32])
    public static let floats = TypeSet([.float32, .float16, .float64])
    public static let signedInts = TypeSet([.int8, .int16, .int32, .int64])
    public static let unsignedInts = TypeSet([.uint8, .uint16, .uint32, .uint64])
    public static let ints: TypeSet = [.signedInts, .unsignedInts]
    public static let int32or64 = TypeSet([.int32, .int64])
    public static let int64 = TypeSet([.int64])
    public static let bool = TypeSet([.bool])
    public static let signedNumeric: TypeSet = [.floats, .signedInts]
    public static let numeric: TypeSet = [.floats, .ints]
    public static let all: TypeSet = [.numeric, .bool]
}
