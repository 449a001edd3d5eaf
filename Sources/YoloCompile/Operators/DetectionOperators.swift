// NonMaxSuppression: the selected (batch, class, box) triples, known only once scores are.

extension Operators {
    static let detection: [OperatorSchema] = [
        with(OperatorSchema("NonMaxSuppression", versions: [10, 11], attributes: [.int("center_point_box", 0)],
                            inputs: [.input("boxes", "F"), .input("scores", "F"), .input("max_output_boxes_per_class", "I", .optional),
                                     .input("iou_threshold", "F", .optional), .input("score_threshold", "F", .optional)],
                            outputs: [.output("selected_indices", .int64)], types: ["F": .float32, "I": .int64],
                            infer: nmsRule, kernel: Kernels.nonMaxSuppression)) {
            $0.traits = [.dataDependentShape]
        },
    ]

    /// boxes (B, N, 4), scores (B, C, N); the number of selections is known only at run time.
    static func nmsRule(_ ctx: ShapeContext) throws -> [TensorType] {
        let b = try ctx.type(0), s = try ctx.type(1)
        if let bs = b.staticShape, let ss = s.staticShape {
            guard bs.count == 3, bs[2] == 4, ss.count == 3, ss[0] == bs[0], ss[2] == bs[1] else {
                throw ctx.fail("boxes \(b) and scores \(s) must be (B, N, 4) and (B, C, N)")
            }
        }
        guard ctx.attributes.int("center_point_box") == 0 || ctx.attributes.int("center_point_box") == 1 else {
            throw ctx.fail("attribute 'center_point_box' must be 0 or 1")
        }
        return [TensorType(.int64, dims: [.unknown, .value(3)])]
    }
}
