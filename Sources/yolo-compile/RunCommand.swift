import ArgumentParser
import YoloCompile

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Execute an ONNX model on .npy inputs with the built-in interpreter.",
        discussion: """
        Any ONNX file whose operators the interpreter supports runs: yolo-compile's own exports and what \
        torch.onnx.export writes for YOLOv5. Inputs are given in the model's input order; the first output \
        is written to -o, further outputs beside it as NAME.1.npy, NAME.2.npy, ...

        Example: yolo-compile run yolov5s.onnx --input image.npy -o detections.npy
        """)

    @Argument(help: "The ONNX model.")
    var model: String

    @Option(name: .long, parsing: .singleValue, help: "A .npy input (repeat for several inputs).")
    var input: [String]

    @Option(name: .shortAndLong, help: "Where to write the first output (.npy).")
    var output: String

    func run() throws {
        try reportingErrors {
            let (g, _) = try OnnxReader.read(file: model)
            let tensors = try input.map { try Npy.read(file: $0) }
            let outs = try Interpreter(g).run(tensors)
            for (i, t) in outs.enumerated() {
                let path = i == 0 ? output : output.replacingOccurrences(of: ".npy", with: "") + ".\(i).npy"
                try Npy.write(t, to: path)
                print("wrote \(path): \(g.name(of: g.outputs[i])) \(t.type)")
            }
        }
    }
}
