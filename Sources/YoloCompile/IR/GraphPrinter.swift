/// The IR's text form, for tests and bug reports. One line per graph input, constant, node and output:
///
///     graph "yolov5n" {
///       input %images: f32[1,3,320,320]
///       param %model.0.conv.weight: f32[16,3,6,6]
///       const %/model.24/Constant_output_0: i64[5] = [1,3,85,40,40]
///       %/model.0/conv/Conv_output_0: f32[1,16,160,160] = Conv(%images, %model.0.conv.weight) {group=1, pads=[2,2,2,2], strides=[2,2]}
///       output %output0
///     }
///
/// Constants of up to `inlineLimit` elements show their values, so `GraphParser` can read the text back.
public struct GraphPrinter {
    public var inlineLimit: Int = 16

    public init(inlineLimit: Int = 16) { self.inlineLimit = inlineLimit }

    public func print(_ g: Graph) -> String {
        var out = "graph \"\(g.name)\" {\n"
        for (k, v) in g.metadata { out += "  meta \"\(k)\" = \"\(escape(v))\"\n" }
        for v in g.inputs { out += "  input \(ref(g, v)): \(g.type(of: v))\n" }
        for (v, c) in g.orderedConstants {
            let keyword = c.kind == .constant ? "const" : c.kind.rawValue == "parameter" ? "param" : "buffer"
            out += "  \(keyword) \(ref(g, v)): \(g.type(of: v))"
            if c.tensor.count <= inlineLimit { out += " = " + data(c.tensor) }
            out += "\n"
        }
        for n in g.nodes {
            let outs = n.outputs.map { "\(ref(g, $0)): \(g.type(of: $0))" }.joined(separator: ", ")
            let ins = n.inputs.map { $0.map { ref(g, $0) } ?? "_" }.joined(separator: ", ")
            out += "  \(outs) = \(n.op)(\(ins))"
            if !n.attributes.isEmpty {
                out += " {" + n.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + "}"
            }
            out += "  # \(n.name)\n"
        }
        for v in g.outputs { out += "  output \(ref(g, v))\n" }
        return out + "}\n"
    }

    func ref(_ g: Graph, _ v: ValueID) -> String { "%" + g.name(of: v) }

    func data(_ t: Tensor) -> String {
        let items: [String]
        switch t.dtype.storage {
        case .floats: items = t.floats.map(formatFloat)
        case .doubles: items = t.doubles.map { "\($0)" }
        case .ints: items = t.ints.map { String($0) }
        }
        return "[" + items.joined(separator: ",") + "]"
    }

    func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}

extension Graph {
    /// The graph's text form (see `GraphPrinter`).
    public var text: String { GraphPrinter().print(self) }
}
