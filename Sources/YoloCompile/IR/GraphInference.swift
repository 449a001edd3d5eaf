/// How much constant folding may allocate and compute, in total, for one graph: folding is an
/// optimisation, so a constant subgraph over budget stays a node and runs when the model runs. This
/// keeps a small hostile file (a ConstantOfShape of 10^9 elements, a chain of large MatMuls of
/// constants) from allocating gigabytes or computing for minutes while it is read.
public struct FoldingBudget: Sendable, Equatable {
    /// Elements the folded results may hold.
    public var elements: Int
    /// Multiply-adds (or, for other operators, elements touched) folding may spend.
    public var multiplyAdds: Double

    public init(elements: Int, multiplyAdds: Double) {
        self.elements = elements
        self.multiplyAdds = multiplyAdds
    }

    /// 16M elements (64 MB of float32) and 2^28 multiply-adds (a fraction of a second).
    public static let standard = FoldingBudget(elements: 1 << 24, multiplyAdds: Double(1 << 28))
    /// The standard budget plus twice the elements a graph's constants already hold: folding may
    /// relayout every weight (a Linear weight's Transpose) and still stay within a fixed multiple of
    /// what the model itself declares.
    public static func forConstants(_ elements: Int) -> FoldingBudget {
        FoldingBudget(elements: standard.elements + 2 * elements, multiplyAdds: standard.multiplyAdds + 4 * Double(elements))
    }

    /// No folding beyond what costs nothing.
    public static let none = FoldingBudget(elements: 0, multiplyAdds: 0)

    /// Takes `elements` and `work` from the budget if both fit; otherwise leaves it unchanged.
    public mutating func spend(elements e: Int, multiplyAdds w: Double) -> Bool {
        guard e <= elements, w <= multiplyAdds else { return false }
        elements -= e
        multiplyAdds -= w
        return true
    }
}

/// Infers every node's output types in graph order and folds what is constant: the step that makes a
/// read graph's types (and `specialise`'s) from its inputs. Shape and Size fold from types alone, so
/// once a model's input shapes are known the shape arithmetic torch.onnx.export writes (Shape ->
/// Gather -> Unsqueeze -> Concat -> Reshape) folds away.
public enum GraphInference {
    /// Re-infers and folds `g` in place. Throws `ShapeError` (naming the node) for a node its rule refuses.
    public static func run(_ g: inout Graph, budget: inout FoldingBudget) throws {
        let nodes = g.nodes
        g.nodes = []
        g.nodes.reserveCapacity(nodes.count)
        for n in nodes { try place(n, in: &g, budget: &budget) }
    }

    /// Infers `n`'s output types from what `g` holds so far, then folds it into constants (within
    /// budget) or appends it: the step a reader takes per node, in file order.
    public static func place(_ n: Node, in g: inout Graph, budget: inout FoldingBudget) throws {
        do {
            let inputTypes = n.inputs.map { $0.map(g.type(of:)) }
            let constants = n.inputs.map { g.constant($0) }
            guard let schema = Operators.schema(n.op) else { throw ShapeError(layer: n.layer, op: n.op, message: "unsupported operator") }
            let attributes = try AttributeView(n, schema: schema)
            let ctx = ShapeContext(node: n, schema: schema, attributes: attributes, inputTypes: inputTypes,
                                   constants: constants, outputCount: n.outputs.count)
            let types = try ShapeInference.infer(ctx)
            for (v, t) in zip(n.outputs, types) { g.setType(v, t) }
            if let folded = try fold(n, schema, attributes, inputTypes, constants, types, &budget) {
                let parameter = schema.traits.contains(.relayout)
                    && n.inputs.first.flatMap { $0.flatMap { g.constants[$0]?.kind } } == .parameter
                for (v, t) in zip(n.outputs, folded) {
                    g.constants[v] = Constant(tensor: t, kind: parameter ? .parameter : .constant)
                    g.constantOrder.append(v)
                }
            } else {
                g.nodes.append(n)
            }
        } catch var e as ShapeError {
            e.node = n.name
            throw e
        }
    }

    /// The node's results when it can be folded within budget, else nil.
    static func fold(_ n: Node, _ schema: OperatorSchema, _ attributes: AttributeView, _ inputTypes: [TensorType?],
                     _ constants: [Tensor?], _ types: [TensorType], _ budget: inout FoldingBudget) throws -> [Tensor]? {
        guard !schema.traits.contains(.nondeterministic), let shapes = types.map(\.staticShape) as [[Int]?]?,
              shapes.allSatisfy({ $0 != nil }) else { return nil }
        if let byType = schema.valueFromTypes, let t = byType(inputTypes, attributes) {
            return [t]
        }
        let allConstant = zip(n.inputs, constants).allSatisfy { v, c in v == nil || c != nil }
        guard allConstant, !n.inputs.isEmpty || schema.inputArity.lowerBound == 0 else { return nil }
        let outElements = shapes.reduce(0) { $0 + ($1?.reduce(1, *) ?? 0) }
        let work = schema.multiplyAdds?(inputTypes.compactMap { $0 }, types, attributes)
            ?? Double(outElements + constants.reduce(0) { $0 + ($1?.count ?? 0) })
        guard budget.spend(elements: outElements, multiplyAdds: work) else { return nil }
        let ctx = KernelContext(node: n, attributes: attributes, inputs: constants, outputTypes: types)
        do {
            return try schema.kernel(ctx)
        } catch let e as InterpreterError {
            throw ShapeError(layer: n.layer, op: n.op, message: e.message)
        }
    }

    /// `g` with its inputs given `inputTypes` (static), every type inferred again and what becomes
    /// constant folded.
    public static func specialise(_ g: Graph, to inputTypes: [TensorType], budget: FoldingBudget? = nil) throws -> Graph {
        var s = g
        for (v, t) in zip(s.inputs, inputTypes) { s.setType(v, t) }
        var b = budget ?? .forConstants(g.constantElementCount(kinds: [.parameter, .buffer, .constant]))
        do { try run(&s, budget: &b) } catch let e as ShapeError {
            throw InterpreterError(node: e.node ?? e.layer, op: e.op, message: "for these input shapes: \(e.message)")
        }
        return s
    }
}
