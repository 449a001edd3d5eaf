// Comparisons, boolean logic and Where: outputs are bool (Where's its branches' type).

extension Operators {
    static let logical: [OperatorSchema] = [
        comparison("Equal", [1, 7, 11, 13, 19], .all, Kernels.equal),
        comparison("Less", [1, 7, 9, 13], .numeric, Kernels.less),
        comparison("Greater", [1, 7, 9, 13], .numeric, Kernels.greater),
        comparison("LessOrEqual", [12, 16], .numeric, Kernels.lessOrEqual),
        comparison("GreaterOrEqual", [12, 16], .numeric, Kernels.greaterOrEqual),
        comparison("And", [1, 7], .bool, Kernels.and),
        comparison("Or", [1, 7], .bool, Kernels.or),
        comparison("Xor", [1, 7], .bool, Kernels.xor),
        OperatorSchema("Not", versions: [1], inputs: [.input("X", "T")], outputs: [.output("Y", "T", shape: .sameAs(0))],
                       types: ["T": .bool], infer: nil, kernel: Kernels.not),
        OperatorSchema("Where", versions: [9, 16], inputs: [.input("condition", "B"), .input("X", "T"), .input("Y", "T")],
                       outputs: [.output("output", "T")], types: ["B": .bool, "T": .all], infer: broadcastRule, kernel: Kernels.where),
    ]

    static func comparison(_ name: String, _ versions: [Int], _ types: TypeSet, _ kernel: @escaping Kernel) -> OperatorSchema {
        OperatorSchema(name, versions: versions, inputs: [.input("A", "T"), .input("B", "T")], outputs: [.output("C", .bool)],
                       types: ["T": types], infer: broadcastRule, kernel: kernel)
    }
}
