/// An SSA value's identity: an index into `Graph.values`.
public struct ValueID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let raw: Int
    public init(_ raw: Int) { self.raw = raw }
    public static func < (a: ValueID, b: ValueID) -> Bool { a.raw < b.raw }
    public var description: String { "%\(raw)" }
}

/// What a constant is to the model: a trained parameter, a buffer (BatchNorm statistics, anchors),
/// or a constant the compiler made (shapes, grids, folded results).
public enum ConstantKind: String, Sendable {
    case parameter, buffer, constant
}

/// A value: its name (the ONNX tensor name on export) and static type.
public struct Value: Sendable, Equatable {
    public var name: String
    public var type: TensorType
}

/// A constant value's data and provenance.
public struct Constant: Sendable, Equatable {
    public var tensor: Tensor
    public var kind: ConstantKind
}

/// One operation. `op` is the ONNX operator name; the IR's operator set is a subset of ONNX's
/// (latest semantics: e.g. Split takes its sizes as an input), so export and import map one to one.
/// An absent optional input (ONNX's empty name) is `nil`.
public struct Node: Sendable, Equatable {
    public var op: String
    public var name: String
    public var inputs: [ValueID?]
    public var outputs: [ValueID]
    public var attributes: [String: Attribute]

    public init(op: String, name: String, inputs: [ValueID?], outputs: [ValueID], attributes: [String: Attribute] = [:]) {
        self.op = op
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// The YOLO layer a node was lowered from (`model.3` from `/model.3/cv1/conv/Conv`), for messages.
    public var layer: String {
        let parts = name.split(separator: "/")
        return parts.first.map(String.init) ?? name
    }

    /// The attributes checked against the operator's declaration, with its defaults (the one place
    /// defaults live).
    public func attributeView() throws -> AttributeView {
        guard let s = Operators.schema(op) else { throw ShapeError(layer: layer, op: op, message: "unsupported operator") }
        return try AttributeView(self, schema: s)
    }
}

/// A static dataflow graph: SSA values with inferred types, constants, nodes in topological order.
/// A value is produced by exactly one of: the graph inputs, `constants`, or one node.
public struct Graph: Sendable, Equatable {
    public var name: String
    public private(set) var values: [Value] = []
    public var inputs: [ValueID] = []
    public var outputs: [ValueID] = []
    public var constants: [ValueID: Constant] = [:]
    /// Initializer order, kept so export is deterministic and import -> export is byte-identical.
    public var constantOrder: [ValueID] = []
    public var nodes: [Node] = []
    /// ONNX metadata_props, in order.
    public var metadata: [(key: String, value: String)] = []

    public init(name: String) { self.name = name }

    public static func == (a: Graph, b: Graph) -> Bool {
        a.name == b.name && a.values == b.values && a.inputs == b.inputs && a.outputs == b.outputs
            && a.constants == b.constants && a.constantOrder == b.constantOrder && a.nodes == b.nodes
            && a.metadata.map { $0.key } == b.metadata.map { $0.key }
            && a.metadata.map { $0.value } == b.metadata.map { $0.value }
    }

    public func type(of v: ValueID) -> TensorType { values[v.raw].type }
    public func name(of v: ValueID) -> String { values[v.raw].name }
    public func constant(_ v: ValueID?) -> Tensor? { v.flatMap { constants[$0]?.tensor } }

    public mutating func addValue(name: String, type: TensorType) -> ValueID {
        values.append(Value(name: name, type: type))
        return ValueID(values.count - 1)
    }

    public mutating func setType(_ v: ValueID, _ type: TensorType) { values[v.raw].type = type }
    public mutating func rename(_ v: ValueID, _ name: String) { values[v.raw].name = name }

    public mutating func addConstant(name: String, tensor: Tensor, kind: ConstantKind) -> ValueID {
        let id = addValue(name: name, type: tensor.type)
        constants[id] = Constant(tensor: tensor, kind: kind)
        constantOrder.append(id)
        return id
    }

    public mutating func removeConstant(_ v: ValueID) {
        constants[v] = nil
        constantOrder.removeAll { $0 == v }
    }

    /// Constants in initializer order, dropping any that were removed.
    public var orderedConstants: [(ValueID, Constant)] {
        constantOrder.compactMap { id in constants[id].map { (id, $0) } }
    }

    /// Replaces every use of `old` (node inputs and graph outputs) with `new`.
    public mutating func replaceUses(of old: ValueID, with new: ValueID) { replaceUses([old: new]) }

    /// Applies a whole substitution in one walk over the nodes (chains `a -> b -> c` resolve to `c`),
    /// so a pass that rewires many values records them and calls this once. A graph output's name is
    /// the model's interface: a value that replaces one takes its name (unless it is a graph input).
    public mutating func replaceUses(_ map: [ValueID: ValueID]) {
        guard !map.isEmpty else { return }
        func resolve(_ v: ValueID) -> ValueID {
            var v = v
            while let r = map[v] { v = r }
            return v
        }
        for i in nodes.indices {
            for j in nodes[i].inputs.indices {
                if let v = nodes[i].inputs[j], map[v] != nil { nodes[i].inputs[j] = resolve(v) }
            }
        }
        for i in outputs.indices where map[outputs[i]] != nil {
            let new = resolve(outputs[i])
            if !inputs.contains(new) { rename(new, name(of: outputs[i])) }
            outputs[i] = new
        }
    }

    /// For each value, the indices of the nodes that read it.
    public func users() -> [ValueID: [Int]] {
        var u: [ValueID: [Int]] = [:]
        for (i, n) in nodes.enumerated() {
            for v in n.inputs.compactMap({ $0 }) { u[v, default: []].append(i) }
        }
        return u
    }

    /// For each node-produced value, the index of its producer.
    public func producers() -> [ValueID: Int] {
        var p: [ValueID: Int] = [:]
        for (i, n) in nodes.enumerated() { for o in n.outputs { p[o] = i } }
        return p
    }

    /// Number of elements held by constants of the given kinds.
    public func constantElementCount(kinds: Set<ConstantKind>) -> Int {
        constants.values.filter { kinds.contains($0.kind) }.reduce(0) { $0 + $1.tensor.count }
    }
}

/// Hands out value names not yet used in a graph: `base`, else `base_1`, `base_2`, ... Built once per
/// pass (one walk over the names), not once per name.
public struct NameAllocator {
    private var taken: Set<String>

    public init(_ g: Graph) { taken = Set(g.values.map(\.name)) }

    /// Over any set of taken names (node names, say).
    public init(names: [String]) { taken = Set(names) }

    public mutating func unique(_ base: String) -> String {
        var name = base, k = 0
        while taken.contains(name) { k += 1; name = "\(base)_\(k)" }
        taken.insert(name)
        return name
    }
}
