/// Type and shape inference for one node, from its operator's declaration: the attributes are checked
/// and decoded, the inputs' count and element types checked against the declared ones, then the
/// operator's shape rule runs. A rule reads shapes and constant values through `ShapeContext`; when
/// something it needs is not known before the model runs (a symbolic dimension, an input that is not a
/// constant), the output's shape is left unknown and the interpreter infers it at run time.
public enum ShapeInference {
    /// Largest tensor the compiler handles (2^31 elements): larger ones come from corrupt files.
    public static let maxElements = (1 << 31) - 1  // below 2^31: BLAS and im2col index with Int32

    /// The output types of `node`. Throws a `ShapeError` naming the node's layer and operator.
    public static func infer(_ node: Node, inputTypes: [TensorType?], constants: [Tensor?],
                             outputCount: Int? = nil) throws -> [TensorType] {
        guard let schema = Operators.schema(node.op) else {
            throw ShapeError(layer: node.layer, op: node.op, message: "unsupported operator")
        }
        let attributes = try AttributeView(node, schema: schema)
        let ctx = ShapeContext(node: node, schema: schema, attributes: attributes, inputTypes: inputTypes,
                               constants: constants, outputCount: outputCount ?? node.outputs.count)
        return try infer(ctx)
    }

    public static func infer(_ ctx: ShapeContext) throws -> [TensorType] {
        let schema = ctx.schema
        let arity = schema.inputArity
        guard ctx.inputTypes.count <= arity.upperBound else {
            throw ctx.fail("has \(ctx.inputTypes.count) inputs; \(schema.name) takes at most \(arity.upperBound)")
        }
        for (i, spec) in schema.inputs.enumerated() where spec.presence == .required {
            guard i < ctx.inputTypes.count, ctx.inputTypes[i] != nil else {
                throw ctx.fail("input \(i) ('\(spec.name)') is required")
            }
        }
        if case .variadic(let min)? = schema.inputs.last?.presence {
            let first = schema.inputs.count - 1
            guard ctx.inputTypes.count - first >= min else {
                throw ctx.fail("takes at least \(first + min) inputs, the node has \(ctx.inputTypes.count)")
            }
        }
        guard schema.outputArity.contains(ctx.outputCount) else {
            let a = schema.outputArity
            let expected = a.lowerBound == a.upperBound ? "\(a.lowerBound)" : a.upperBound == Int.max ? "at least \(a.lowerBound)" : "\(a.lowerBound) to \(a.upperBound)"
            throw ctx.fail("has \(ctx.outputCount) outputs; \(schema.name) has \(expected)")
        }
        // Element types: each input in its constraint's set, inputs sharing a letter alike.
        var bound: [String: (DType, Int)] = [:]
        for (i, t) in ctx.inputTypes.enumerated() {
            guard let t, let spec = schema.inputSpec(i) else { continue }
            guard let allowed = schema.types[spec.type], allowed.allows(t.dtype) else {
                let allowed = schema.types[spec.type]?.members.map(\.onnxName).joined(separator: ", ") ?? "none"
                throw ctx.fail("input \(i) ('\(spec.name)') is \(t.dtype.onnxName); \(schema.name) takes \(allowed) here")
            }
            if let (d, j) = bound[spec.type], d != t.dtype {
                throw ctx.fail("input \(i) ('\(spec.name)') is \(t.dtype.onnxName) but input \(j) is \(d.onnxName); they must match")
            }
            if bound[spec.type] == nil { bound[spec.type] = (t.dtype, i) }
        }
        var types: [TensorType]
        do {
            if let rule = schema.rule {
                types = try rule(ctx)
            } else {
                types = try (0..<ctx.outputCount).map { try ctx.declaredOutput($0) }
            }
        } catch is NotStatic {
            types = try (0..<ctx.outputCount).map { try ctx.unknownOutput($0) }
        }
        guard types.count == ctx.outputCount else {
            throw ctx.fail("its rule gives \(types.count) outputs for \(ctx.outputCount)")
        }
        for t in types {
            guard let shape = t.staticShape else { continue }
            guard shape.allSatisfy({ $0 >= 0 }), elementCount(shape) != nil else {
                throw ctx.fail("result \(t) is larger than \(maxElements) elements")
            }
        }
        return types
    }

    /// The number of elements of a shape, or nil when it overflows or exceeds `maxElements`. The
    /// product of the non-zero sizes is held to the same bound, so an empty tensor cannot carry sizes
    /// like [0, 2^62, 4] whose partial products (strides, flattened sizes) would overflow.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var nonZero = 1
        var empty = false
        for d in shape {
            guard d >= 0 else { return nil }
            if d == 0 { empty = true; continue }
            let (m, o) = nonZero.multipliedReportingOverflow(by: d)
            guard !o, m <= maxElements else { return nil }
            nonZero = m
        }
        return empty ? 0 : nonZero
    }
}

/// Thrown by `ShapeContext` when a rule needs what is known only at run time.
struct NotStatic: Error {}

/// What a shape rule sees: the node, its decoded attributes, its input types, and the values of the
/// inputs its declaration says it reads (when they are constants).
public struct ShapeContext {
    public let node: Node
    public let schema: OperatorSchema
    public let attributes: AttributeView
    public let inputTypes: [TensorType?]
    let constants: [Tensor?]
    /// How many outputs the node has (Split's rule needs it before the outputs exist).
    public let outputCount: Int

    public init(node: Node, schema: OperatorSchema, attributes: AttributeView, inputTypes: [TensorType?],
                constants: [Tensor?], outputCount: Int) {
        self.node = node
        self.schema = schema
        self.attributes = attributes
        self.inputTypes = inputTypes
        self.constants = constants
        self.outputCount = outputCount
    }

    public func fail(_ message: String) -> ShapeError {
        ShapeError(layer: node.layer, op: node.op, message: message)
    }

    public func has(_ i: Int) -> Bool { i < inputTypes.count && inputTypes[i] != nil }

    /// Input `i`'s type; an absent input is an error.
    public func type(_ i: Int) throws -> TensorType {
        guard i < inputTypes.count, let t = inputTypes[i] else { throw fail("missing input \(i)") }
        return t
    }

    /// Input `i`'s static shape; unknown dimensions defer the rule to run time.
    public func shape(_ i: Int) throws -> [Int] {
        guard let s = try type(i).staticShape else { throw NotStatic() }
        return s
    }

    /// The value of input `i`, which the declaration must mark as read (`InputSpec.value`).
    public func value(_ i: Int) throws -> Tensor {
        guard let t = try optionalValue(i) else { throw fail("missing input \(i)") }
        return t
    }

    /// The value of an optional input, or nil when the node leaves it out.
    public func optionalValue(_ i: Int) throws -> Tensor? {
        precondition(schema.inputSpec(i)?.readsValue == true, "\(schema.name)'s rule reads input \(i), which its declaration does not mark as read")
        guard has(i) else { return nil }
        guard i < constants.count, let t = constants[i] else { throw NotStatic() }
        return t
    }

    /// The element type output `i` has by its declaration (nil when the rule decides it).
    public func outputDType(_ i: Int) -> DType? {
        guard let spec = schema.outputSpec(i) else { return nil }
        switch spec.type {
        case .fixed(let d): return d
        case .attributeCode(let name, let fallback):
            if let code = attributes.optionalInt(name) { return DType(onnxCode: code) }
            return fallback.flatMap(boundType)
        case .attributeTensor(let name, let d): return attributes.tensor(name)?.dtype ?? d
        case .constraint(let letter): return boundType(letter)
        }
    }

    /// The element type of the first present input constrained by `letter`.
    func boundType(_ letter: String) -> DType? {
        for (j, t) in inputTypes.enumerated() where schema.inputSpec(j)?.type == letter {
            if let t { return t.dtype }
        }
        return nil
    }

    /// A static output type with the declared element type.
    public func output(_ i: Int = 0, _ shape: [Int]) throws -> TensorType {
        guard let d = outputDType(i) else { throw fail("output \(i) has no declared element type") }
        return TensorType(d, shape)
    }

    /// The output as its declaration describes it (`.sameAs(i)` shapes).
    func declaredOutput(_ i: Int) throws -> TensorType {
        guard let spec = schema.outputSpec(i), case .sameAs(let j) = spec.shape else {
            throw fail("output \(i) has no declared shape")
        }
        guard let d = outputDType(i) else { throw fail("output \(i) has no declared element type") }
        return TensorType(d, dims: try type(j).dims)
    }

    /// An output whose shape is known only at run time (its declared shape when it has one).
    func unknownOutput(_ i: Int) throws -> TensorType {
        if let spec = schema.outputSpec(i), case .sameAs = spec.shape { return try declaredOutput(i) }
        guard let d = outputDType(i) else { throw fail("output \(i)'s element type is known only at run time") }
        return TensorType(d, dims: nil)
    }

    /// Normalises a possibly negative axis against `rank`.
    public func axis(_ axis: Int, rank: Int) throws -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0 && a < rank else { throw fail("axis \(axis) is out of range for rank \(rank)") }
        return a
    }
}

public typealias ShapeRule = @Sendable (ShapeContext) throws -> [TensorType]
