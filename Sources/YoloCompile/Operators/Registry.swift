/// Every operator the IR knows, by name: the one table the reader, shape inference, the interpreter,
/// the verifier and the passes consult. Declarations live in one file per operator family.
public enum Operators {
    public static let all: [OperatorSchema] =
        elementwise + arithmetic + logical + convolution + pooling + normalization + reduction + selection
        + matrix + layout + indexing + generators + resize + detection

    private static let byName: [String: OperatorSchema] = {
        var m: [String: OperatorSchema] = [:]
        for s in all {
            precondition(m[s.name] == nil, "operator \(s.name) is declared twice")
            m[s.name] = s
        }
        return m
    }()

    public static func schema(_ name: String) -> OperatorSchema? { byName[name] }
}
