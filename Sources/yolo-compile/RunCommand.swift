import ArgumentParser
import YoloCompile

struct RunCommand: ParsableCommand, MemoryLimited {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Execute an ONNX model on .npy (or TensorProto .pb) inputs with the built-in interpreter.",
        discussion: """
        Any ONNX file whose operators the interpreter computes exactly runs; anything else is refused when the \
        model is read, naming the node, the operator and the attribute or input. Inputs are given in the model's \
        input order, as .npy files or as TensorProto .pb files (the ONNX test data's form), in the model's own \
        element types. A model with symbolic or unknown input sizes (a dynamic-axes export) runs at the sizes of \
        the inputs given. The first output is written to -o, further outputs beside it as NAME.1.npy, NAME.2.npy, ... (all of them, or none when \
        anything fails). An output path that is one of the inputs is refused before anything is read.

        Example: yolo-compile run yolov5s.onnx --input image.npy -o detections.npy
        """)

    @OptionGroup var resources: ResourceOptions

    @Argument(help: "The ONNX model.")
    var model: String

    @Option(name: .long, parsing: .singleValue, help: "A .npy or .pb input (repeat for several inputs; none for a model without inputs).")
    var input: [String] = []

    @Option(name: .shortAndLong, help: "Where to write the first output (.npy).")
    var output: String

    func run() throws {
        try reportingErrors {
            try OutputFiles.checkNotAnInput(output, inputs: [model] + input)
            let (g, _) = try OnnxReader.read(file: model)
            let paths = (0..<g.outputs.count).map { i in i == 0 ? output : output.replacingOccurrences(of: ".npy", with: "") + ".\(i).npy" }
            for p in paths.dropFirst() { try OutputFiles.checkNotAnInput(p, inputs: [model] + input) }
            let tensors = try input.map { $0.hasSuffix(".pb") ? try OnnxReader.readTensor(file: $0) : try Npy.read(file: $0) }
            let outs = try Interpreter(g).run(tensors)
            // Every output or none.
            try Npy.write(Array(zip(outs, paths)))
            for (i, (t, path)) in zip(outs, paths).enumerated() { say("wrote \(path): \(g.name(of: g.outputs[i])) \(t.type)") }
        }
    }
}
