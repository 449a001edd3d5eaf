import Foundation

/// The operator declarations as text and JSON, for `yolo-compile operators` and for the peer test that
/// checks every declaration against the ONNX specification's own schemas.
public enum OperatorCatalog {
    /// One line per operator: name, ONNX versions, attributes with defaults, inputs and outputs.
    public static var text: String {
        Operators.all.sorted { $0.name < $1.name }.map { s in
            let attrs = s.attributes.map { a in
                a.name + ": " + a.kind.rawValue + (a.defaultValue.map { " = \($0)" } ?? (a.required ? " (required)" : ""))
            }
            let ins = s.inputs.map { $0.name + presence($0.presence) + ": " + (s.types[$0.type].map(typeList) ?? $0.type) }
            let outs = s.outputs.map { o -> String in
                let t: String
                switch o.type {
                case .constraint(let l): t = s.types[l].map(typeList) ?? l
                case .fixed(let d): t = d.onnxName
                case .attributeCode(let a, _): t = "type in '\(a)'"
                case .attributeTensor(let a, let d): t = "type of '\(a)' (default \(d.onnxName))"
                }
                return o.name + presence(o.presence) + ": " + t
            }
            return "\(s.name) (opsets \(s.versions[0])-\(s.removedAt.map { $0 - 1 } ?? Opset.newestRead); versions \(s.versions.map(String.init).joined(separator: ", ")))\n"
                + "  inputs: \(ins.joined(separator: "; "))\n  outputs: \(outs.joined(separator: "; "))\n"
                + (attrs.isEmpty ? "" : "  attributes: \(attrs.joined(separator: "; "))\n")
        }.joined()
    }

    static func presence(_ p: InputSpec.Presence) -> String {
        switch p {
        case .required: return ""
        case .optional: return "?"
        case .variadic: return "..."
        }
    }

    static func typeList(_ t: TypeSet) -> String { t == .all ? "any" : t.members.map(\.onnxName).joined(separator: "|") }

    /// name -> {versions, removed_at, attributes: {name: {kind, default, required}}, inputs, outputs}.
    public static var json: String {
        var out: [String: Any] = [:]
        for s in Operators.all {
            var attrs: [String: Any] = [:]
            for a in s.attributes {
                var d: [String: Any] = ["kind": a.kind.rawValue, "required": a.required]
                switch a.defaultValue {
                case .int(let v)?: d["default"] = v
                case .float(let v)?: d["default"] = Double(v)
                case .string(let v)?: d["default"] = v
                default: break
                }
                if let allowed = a.allowed { d["allowed"] = allowed }
                attrs[a.name] = d
            }
            out[s.name] = [
                "versions": s.versions,
                "removed_at": s.removedAt as Any,
                "attributes": attrs,
                "inputs": s.inputs.map { ["name": $0.name, "types": s.types[$0.type]?.members.map(\.onnxName) ?? []] },
                "outputs": s.outputs.map(\.name),
            ]
        }
        let data = (try? JSONSerialization.data(withJSONObject: out, options: [.sortedKeys, .prettyPrinted])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
