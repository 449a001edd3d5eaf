/// A node's attributes checked against its operator's declaration, with the declared defaults filled
/// in: decoded once (when a node is inferred, or when the interpreter plans it), then shared by the
/// shape rule and the kernel. An attribute the declaration does not define, one of the wrong type, a
/// string value outside the allowed ones, or a missing required one is refused here, naming it: an
/// attribute that a kernel would silently ignore cannot get through.
public struct AttributeView: Sendable {
    private let values: [String: Attribute]
    /// The names the node itself gave (not defaults).
    public let given: Set<String>

    /// Checks `node`'s attributes against `schema`. Errors are one line naming the attribute.
    public init(_ node: Node, schema: OperatorSchema) throws {
        var values: [String: Attribute] = [:]
        for spec in schema.attributes { if let d = spec.defaultValue { values[spec.name] = d } }
        for (name, value) in node.attributes.sorted(by: { $0.key < $1.key }) {
            guard let spec = schema.attribute(name) else {
                throw ShapeError(layer: node.layer, op: node.op,
                                 message: "attribute '\(name)' is not one \(node.op) defines (\(AttributeView.list(schema)))")
            }
            guard let checked = AttributeView.coerce(value, to: spec.kind) else {
                throw ShapeError(layer: node.layer, op: node.op,
                                 message: "attribute '\(name)' is \(value.kindName), expected \(spec.kind.rawValue)")
            }
            if let allowed = spec.allowed, case .string(let s) = checked, !allowed.contains(s) {
                throw ShapeError(layer: node.layer, op: node.op,
                                 message: "attribute '\(name)' is '\(s)'; \(node.op) defines \(allowed.map { "'\($0)'" }.joined(separator: ", "))")
            }
            values[name] = checked
        }
        for spec in schema.attributes where spec.required && node.attributes[spec.name] == nil {
            throw ShapeError(layer: node.layer, op: node.op, message: "required attribute '\(spec.name)' is missing")
        }
        self.values = values
        self.given = Set(node.attributes.keys)
    }

    /// A view over values already known to be valid (compiler-built nodes in tests).
    init(checked values: [String: Attribute]) {
        self.values = values
        self.given = Set(values.keys)
    }

    static func list(_ schema: OperatorSchema) -> String {
        schema.attributes.isEmpty ? "it has none" : schema.attributes.map(\.name).joined(separator: ", ")
    }

    /// ONNX writes one value where a list may be meant only through the list type; an empty list
    /// attribute may come without a type-specific field, so lists stay lists and scalars scalars.
    public static func coerce(_ a: Attribute, to kind: AttributeSpec.Kind) -> Attribute? {
        switch (a, kind) {
        case (.int, .int), (.ints, .ints), (.float, .float), (.floats, .floats), (.string, .string),
             (.strings, .strings), (.tensor, .tensor):
            return a
        default: return nil
        }
    }

    public func has(_ name: String) -> Bool { given.contains(name) }

    // Accessors for declared attributes. Reading one the schema does not declare is a programming
    // error in the declaration, caught by the schema tests.

    public func int(_ name: String) -> Int {
        guard case .int(let v)? = values[name] else { preconditionFailure("attribute \(name) has no int default") }
        return v
    }
    public func optionalInt(_ name: String) -> Int? {
        if case .int(let v)? = values[name] { return v }
        return nil
    }
    public func ints(_ name: String) -> [Int]? {
        if case .ints(let v)? = values[name] { return v }
        return nil
    }
    public func float(_ name: String) -> Float {
        guard case .float(let v)? = values[name] else { preconditionFailure("attribute \(name) has no float default") }
        return v
    }
    public func optionalFloat(_ name: String) -> Float? {
        if case .float(let v)? = values[name] { return v }
        return nil
    }
    public func floats(_ name: String) -> [Float]? {
        if case .floats(let v)? = values[name] { return v }
        return nil
    }
    public func string(_ name: String) -> String {
        guard case .string(let v)? = values[name] else { preconditionFailure("attribute \(name) has no string default") }
        return v
    }
    public func tensor(_ name: String) -> Tensor? {
        if case .tensor(let t)? = values[name] { return t }
        return nil
    }
    public func flag(_ name: String) -> Bool { int(name) != 0 }
}
