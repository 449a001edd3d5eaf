import ArgumentParser
import YoloCompile

/// What export (and verify) add to the compiled graph: dynamic sizes and end-to-end NMS.
struct ExportStageOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Symbolic input sizes: `--dynamic` makes batch, height and width symbolic (output0's batch and anchors follow), `--dynamic batch` only the batch. The graph is checked exact at five probe sizes before it is written.", valueName: "batch"))
    var dynamic: DynamicAxes?

    @Flag(help: "End-to-end detection: NMS in the graph, with outputs num_dets (B,1), det_boxes (B,K,4) xyxy, det_scores (B,K), det_classes (B,K) (and det_coefficients or det_keypoints).")
    var nms = false

    @Option(help: "--nms: keep candidates scoring above this (default 0.25).")
    var confThres: Float?

    @Option(help: "--nms: suppress boxes overlapping a kept one by IoU above this (default 0.45 for YOLOv5 configs, 0.7 for Ultralytics').")
    var iouThres: Float?

    @Option(help: "--nms: detections per image, at most (default 1000 for YOLOv5 configs, 300 for Ultralytics').")
    var maxDet: Int?

    @Flag(help: "--nms: one NMS over all classes instead of one per class.")
    var agnosticNms = false

    func validate() throws {
        if !nms, confThres != nil || iouThres != nil || maxDet != nil || agnosticNms {
            throw ValidationError("--conf-thres, --iou-thres, --max-det and --agnostic-nms set up --nms; add --nms")
        }
        if let t = confThres, !(t >= 0 && t < 1) { throw ValidationError("--conf-thres must be in [0, 1), got \(t)") }
        if let t = iouThres, !(t >= 0 && t <= 1) { throw ValidationError("--iou-thres must be in [0, 1], got \(t)") }
        if let k = maxDet, !(1...100_000).contains(k) { throw ValidationError("--max-det must be between 1 and 100000, got \(k)") }
    }

    @Option(help: ArgumentHelp("The runtime the file is for: \(RuntimeTarget.allCases.map(\.rawValue).joined(separator: ", ")). The graph is legalised to its opsets, operators and ranks exactly, or the export fails naming the node; `inspect --target` checks an existing file.", valueName: "runtime"))
    var target: RuntimeTarget = .generic

    var stages: ExportStages {
        ExportStages(dynamic: dynamic, nms: nms ? NMSRequest(scoreThreshold: confThres, iouThreshold: iouThres, maxDetections: maxDet, agnostic: agnosticNms) : nil,
                     target: target)
    }
}

extension DynamicAxes: ExpressibleByArgument {}
extension RuntimeTarget: ExpressibleByArgument {}
