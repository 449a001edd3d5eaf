import ArgumentParser
import YoloCompile

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe an ONNX file: opset, inputs and outputs, operators, metadata, weights.",
        discussion: "Add --ir to print the imported graph in yolo-compile's IR text form.")

    @Argument(help: "The ONNX model.")
    var model: String

    @Flag(help: "Print the graph as IR text.")
    var ir = false

    func run() throws {
        try reportingErrors {
            let (g, info) = try OnnxReader.read(file: model)
            print("\(model): opset \(info.opset), IR version \(info.irVersion), producer '\(info.producer)'")
            for v in g.inputs { print("input  \(g.name(of: v)): \(g.type(of: v))") }
            for v in g.outputs { print("output \(g.name(of: v)): \(g.type(of: v))") }
            var histogram: [String: Int] = [:]
            for n in g.nodes { histogram[n.op, default: 0] += 1 }
            print("nodes: \(g.nodes.count) (" + histogram.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")")
            let bytes = g.constants.values.reduce(0) { $0 + $1.tensor.count * ($1.tensor.isFloat ? 4 : 8) }
            print("constants: \(g.constants.count) tensors, \(g.constants.values.reduce(0) { $0 + $1.tensor.count }) values, \(bytes) bytes")
            for (k, v) in g.metadata { print("metadata \(k): \(v.count > 120 ? String(v.prefix(117)) + "..." : v)") }
            if ir { print(g.text, terminator: "") }
        }
    }
}
