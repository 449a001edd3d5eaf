/// Checks the IR's invariants: every value defined once (graph input, constant or node output),
/// every use after its definition (topological order), every node's output types as its shape rule
/// infers them, and the graph outputs defined.
public enum Verifier {
    public static func verify(_ g: Graph) throws {
        var defined = Set<ValueID>()
        var names = Set<String>()
        func define(_ v: ValueID, _ what: String) throws {
            guard v.raw >= 0 && v.raw < g.values.count else { throw VerifierError(message: "\(what) defines unknown value \(v)") }
            guard defined.insert(v).inserted else {
                throw VerifierError(message: "value \(g.name(of: v)) is defined twice (\(what))")
            }
            guard names.insert(g.name(of: v)).inserted else {
                throw VerifierError(message: "two values are named \(g.name(of: v)) (\(what)); ONNX names must be unique")
            }
        }
        for v in g.inputs { try define(v, "graph input") }
        for (v, c) in g.orderedConstants {
            try define(v, "constant")
            guard c.tensor.type == g.type(of: v) else {
                throw VerifierError(message: "constant \(g.name(of: v)) holds \(c.tensor.type) but is typed \(g.type(of: v))")
            }
        }
        for n in g.nodes {
            for v in n.inputs.compactMap({ $0 }) where !defined.contains(v) {
                throw VerifierError(message: "\(n.name) reads \(g.name(of: v)) before it is defined")
            }
            let inferred: [TensorType]
            do {
                inferred = try ShapeInference.infer(n, inputTypes: n.inputs.map { $0.map(g.type(of:)) },
                                                    constants: n.inputs.map { g.constant($0) })
            } catch let e as ShapeError {
                throw VerifierError(message: "\(n.name): \(e.message)")
            }
            guard inferred.count == n.outputs.count else {
                throw VerifierError(message: "\(n.name) has \(n.outputs.count) outputs, its rule gives \(inferred.count)")
            }
            for (v, t) in zip(n.outputs, inferred) {
                guard g.type(of: v) == t else {
                    throw VerifierError(message: "\(n.name) output \(g.name(of: v)) is typed \(g.type(of: v)), inferred \(t)")
                }
                try define(v, n.name)
            }
        }
        for v in g.outputs where !defined.contains(v) {
            throw VerifierError(message: "graph output \(g.name(of: v)) is never defined")
        }
    }
}
