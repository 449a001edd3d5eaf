import ArgumentParser
import YoloCompile

struct ExportCommand: ParsableCommand, MemoryLimited {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Compile a model config to an ONNX file.",
        discussion: """
        The graph is fused (Conv+BatchNorm folded, standalone BatchNorms made exact scale-and-shift), constant \
        folded and cleaned before it is written. The input is `images` (batch, 3, H, W); the output `output0` \
        is (batch, anchors x cells, 5 + nc) with boxes decoded, as YOLOv5's exporter writes it; a Segment head adds \
        its nm mask coefficients (32 in YOLOv5's configs) to each row and writes the mask prototypes as `output1`. The file is \
        written under a temporary name and renamed, so a failure never leaves a partial model.

        Weights: with no --weights the parameters are seeded (deterministic, untrained). --weights binds a \
        safetensors file, a torch.save state_dict or a YOLOv5 checkpoint by state_dict name and shape, strictly: \
        any missing, unexpected or mis-shaped tensor is an error listing them all (--partial-weights relaxes the \
        first two). Tensors of modules that are built but never run (ConvNeXt_Block's other stages) are \
        shape-checked when present and may be absent. A YOLOv5 checkpoint can also stand in for the config. Float16 weights compute in float32.

        Other runtimes: --dynamic (or --dynamic batch) makes the sizes symbolic, checked exact at five probe sizes; \
        --nms puts end-to-end NMS in the graph (num_dets, det_boxes, det_scores, det_classes); --target legalises the \
        graph for one runtime (ncnn: rank 4 besides the batch; libonnx: its operators; tensorrt: dynamic batch, no \
        shape arithmetic) or fails naming the node.

        Examples:
          yolo-compile export samples/yolov5s.yaml -o yolov5s.onnx --imgsz 640 --opset 17
          yolo-compile export best.pt -o best.onnx
          yolo-compile export yolov5n.yaml --weights weights.safetensors -o yolov5n.onnx
          yolo-compile export best.pt -o best.onnx --target tensorrt --nms
          yolo-compile export samples/yolov5-efficientvit.yaml --imgsz 448 --dynamic -o ev.onnx
        """)

    @OptionGroup var resources: ResourceOptions

    @OptionGroup var model: ModelOptions

    @Option(name: .shortAndLong, help: "The ONNX file to write.")
    var output: String

    @Option(help: "ONNX opset to target (12 to 21; default 17, or the nearest the --target takes).")
    var opset: Int?

    @Flag(help: "Keep BatchNormalization nodes instead of fusing them.")
    var noFuse = false

    @Flag(help: "Write a float16 model (weights, input and output), as YOLOv5's export --half does. Compilation stays float32; values are rounded once, on the way out.")
    var half = false

    @Flag(help: "Print what each pass changed.")
    var verbose = false

    @OptionGroup var stages: ExportStageOptions

    func validate() throws {
        if let opset, !(12...21).contains(opset) { throw ValidationError("--opset must be between 12 and 21, got \(opset)") }
        if half, stages.nms {
            throw ValidationError("--nms cannot be written with --half: ONNX NonMaxSuppression takes float32 boxes and scores only; export float32 (TensorRT chooses float16 itself)")
        }
    }

    func run() throws {
        try reportingErrors {
            try OutputFiles.checkNotAnInput(output, inputs: [model.config] + (model.weights.map { [$0] } ?? []))
            let c = try compile(model, fuse: !noFuse, keepUnfused: false)
            if verbose {
                for r in c.reports { print("\(r.pass): \(r.changes.count) changes, \(r.nodesBefore) -> \(r.nodesAfter) nodes") }
            }
            let stages = self.stages.stages
            let opset = stages.opset(self.opset)
            let staged = try stages.apply(to: c, options: model.compileOptions, fuse: !noFuse, opset: opset)
            staged.notes.forEach(note)
            var graph = staged.graph
            if half { ExportMetadata.recordHalf(&graph) }
            try OnnxWriter.write(graph, to: output, options: OnnxWriteOptions(opset: opset, float16: half, valueInfo: stages.profile.valueInfo))
            let outs = graph.outputs.map { "\(graph.name(of: $0)) \(graph.type(of: $0))" }.joined(separator: ", ")
            say("wrote \(output): opset \(opset), \(graph.nodes.count) nodes, \(outs)\(half ? " (written as float16)" : "")")
            say("weights: " + (c.weightsSummary ?? "seeded (--seed \(model.seed)); pass --weights for trained ones"))
        }
    }
}
