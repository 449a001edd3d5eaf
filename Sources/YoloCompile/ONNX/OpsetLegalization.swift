/// The IR uses the newest form of each operator; older opsets spell a few differently. Export rewrites
/// to the target opset's form and import rewrites back, so a file round-trips unchanged.
///
/// - Split: sizes as an input from opset 13, as the `split` attribute before.
/// - Resize: `roi` optional from opset 13, a required (empty) input before.
/// - Squeeze / Unsqueeze: `axes` an input from opset 13, an attribute before.
/// - Reduce*: `axes` an input from opset 18 (ReduceSum 13), an attribute before.
/// - Softmax, LogSoftmax, Hardmax: along one axis from opset 13; before, over the flattened axes from
///   `axis` on (the last axis alone is the same; other axes are read as Flatten, the op, Reshape).
/// - Clip, Pad, Slice, TopK: their attributes became inputs (opsets 11, 11, 10, 10); read only.
/// - Upsample (7-9) and Resize-10: Resize with asymmetric coordinates (and floor for nearest); read only.
/// - Dropout, BatchNormalization: their training-era attributes (ratio, is_test, spatial) dropped where
///   inference ignores them, refused where they ask for training.
/// - GroupNormalization-18's per-group scale and bias: repeated per channel, as opset 21 has them.
/// - LayerNormalization (opset 17) is written below 17 as the primitive ops that define it.
/// - HardSwish (opset 14) is written below 14 as x * HardSigmoid(x).
/// - Gelu (opset 20) is written below 20 as torch.onnx writes exact GELU: x * (Erf(x / sqrt 2) + 1) * 0.5.
enum OpsetLegalization {
    /// Operators ONNX removed that the reader rewrites to the IR's (they never reach the IR), and the
    /// opsets they are read at.
    static let legacyOperators: [String: ClosedRange<Int>] = ["Upsample": 7...9]

    struct Spelling {
        var op: String
        var name: String
        var inputs: [String]
        var outputs: [String]
        var attributes: [String: Attribute]
        /// Initializers the spelling needs that the IR has no value for (Resize's empty roi).
        var extra: [(String, Tensor)] = []
        /// Such initializers that hold model numbers, so they follow the float16 option (LayerNorm's eps).
        var extraData: [(String, Tensor)] = []
        /// The types of outputs the IR has no value for (a decomposition's intermediates), for value_info.
        var newTypes: [(String, TensorType)] = []
    }

    /// Operators written, below the opset that introduced them, as the older operators that define them.
    static let writtenAsPrimitivesBelow: [String: Int] = ["HardSwish": 14, "LayerNormalization": 17, "Gelu": 20]

    /// The node as the target opset spells it: usually one node, HardSwish below opset 14 two.
    static func export(_ n: Node, opset: Int, graph g: Graph) throws -> [Spelling] {
        guard let schema = Operators.schema(n.op) else { throw OnnxError(file: g.name, "node \(n.name): unsupported operator \(n.op)") }
        let view: AttributeView
        do { view = try AttributeView(n, schema: schema) } catch let e as ShapeError {
            throw OnnxError(file: g.name, "node \(n.name): \(e.message)")
        }
        // Operators newer than the target opset, except those written below as older operators.
        if let first = schema.versions.first, first > opset, writtenAsPrimitivesBelow[n.op] == nil {
            throw OnnxError(file: g.name, "node \(n.name): \(n.op) needs opset \(first) or later; export at opset \(first)")
        }
        if ["Softmax", "LogSoftmax", "Hardmax"].contains(n.op) && opset < 13, let x = n.inputs[0] {
            // Before 13 Softmax flattens to 2-D at `axis`: the same function only on the last axis.
            let rank = g.type(of: x).rank, axis = view.int("axis")
            guard axis == -1 || axis == rank - 1 else {
                throw OnnxError(file: g.name, "node \(n.name): \(n.op) over axis \(axis) of a rank-\(rank) tensor cannot be written below opset 13; use opset 13 or later")
            }
        }
        var s = Spelling(op: n.op, name: n.name, inputs: n.inputs.map { $0.map(g.name(of:)) ?? "" },
                         outputs: n.outputs.map(g.name(of:)), attributes: n.attributes)
        if ["Softmax", "LogSoftmax", "Hardmax"].contains(n.op) && opset < 13 && s.attributes["axis"] == nil {
            s.attributes["axis"] = .int(-1)  // the default was 1 before opset 13
        }
        if n.op == "HardSwish" && opset < writtenAsPrimitivesBelow["HardSwish"]! {
            // x * HardSigmoid(x, 1/6, 1/2): the definition of HardSwish in opset 14.
            let gate = n.name + "/HardSigmoid_output_0"
            return [
                Spelling(op: "HardSigmoid", name: n.name + "/HardSigmoid", inputs: s.inputs, outputs: [gate],
                         attributes: ["alpha": .float(1.0 / 6.0), "beta": .float(0.5)],
                         newTypes: n.inputs[0].map { [(gate, g.type(of: $0))] } ?? []),
                Spelling(op: "Mul", name: n.name, inputs: [s.inputs[0], gate], outputs: s.outputs, attributes: [:]),
            ]
        }
        if n.op == "Gelu" && opset < writtenAsPrimitivesBelow["Gelu"]! {
            guard view.string("approximate") == "none" else {
                throw OnnxError(file: g.name, "node \(n.name): tanh-approximate Gelu cannot be written below opset 20; use opset 20 or later")
            }
            return typed(geluPrimitives(n, s), of: n, like: n.inputs[0].map(g.type(of:)), reducedFrom: nil)
        }
        if n.op == "LayerNormalization" && opset < writtenAsPrimitivesBelow["LayerNormalization"]!, let x = n.inputs[0] {
            let t = g.type(of: x), axis = view.int("axis")
            return typed(layerNormPrimitives(n, s, axis: axis, epsilon: view.float("epsilon"), rank: t.rank), of: n, like: t,
                         reducedFrom: axis < 0 ? axis + t.rank : axis)
        }
        if n.op.hasPrefix("Reduce") && opset < (n.op == "ReduceSum" ? 13 : 18), n.inputs.count > 1 {
            if let t = g.constant(n.inputs[1]) { s.attributes["axes"] = .ints(t.intValues) }
            s.inputs = [s.inputs[0]]
        }
        guard opset < 13 else { return [s] }
        switch n.op {
        case "Split", "Squeeze", "Unsqueeze":
            if n.inputs.count > 1, let t = g.constant(n.inputs[1]) {
                s.attributes[n.op == "Split" ? "split" : "axes"] = .ints(t.intValues)
                s.inputs = [s.inputs[0]]
            }
        case "Resize":
            if n.inputs.count > 1, n.inputs[1] == nil {
                let roi = n.name + "/roi"
                s.inputs[1] = roi
                s.extra.append((roi, Tensor(shape: [0], floats: [])))
            }
        default: break
        }
        return [s]
    }

    /// A decomposition's intermediates typed as its input (elementwise), the ReduceMeans' with the axes
    /// from `reducedFrom` on kept as 1.
    static func typed(_ steps: [Spelling], of n: Node, like t: TensorType?, reducedFrom axis: Int?) -> [Spelling] {
        guard let t else { return steps }
        var reduced = t
        if let axis, let dims = t.dims { reduced.dims = dims.enumerated().map { $0.offset >= axis ? .value(1) : $0.element } }
        var reducedNames = Set<String>()  // a ReduceMean's result, and what is computed from it (eps added, its root)
        return steps.map { s in
            var s = s
            let isReduced = s.op == "ReduceMean" || s.inputs.first.map(reducedNames.contains) == true
            if isReduced { reducedNames.formUnion(s.outputs) }
            s.newTypes = s.outputs.filter { $0.hasPrefix(n.name + "/") }.map { ($0, isReduced ? reduced : t) }
            return s
        }
    }

    /// LayerNormalization as opset 17 defines it, in ops every opset has: the mean and variance over
    /// the axes from `axis` on, then (x - mean) / sqrt(var + eps) * scale + bias.
    static func layerNormPrimitives(_ n: Node, _ s: Spelling, axis: Int, epsilon: Float, rank: Int) -> [Spelling] {
        let axis = axis < 0 ? axis + rank : axis
        let axes: Attribute = .ints(Array(axis..<rank))
        let p = n.name + "/"
        func out(_ op: String) -> String { p + op + "_output_0" }
        let eps = p + "epsilon"
        var steps: [Spelling] = [
            Spelling(op: "ReduceMean", name: p + "ReduceMean", inputs: [s.inputs[0]], outputs: [out("ReduceMean")],
                     attributes: ["axes": axes, "keepdims": .int(1)]),
            Spelling(op: "Sub", name: p + "Sub", inputs: [s.inputs[0], out("ReduceMean")], outputs: [out("Sub")], attributes: [:]),
            Spelling(op: "Mul", name: p + "Mul", inputs: [out("Sub"), out("Sub")], outputs: [out("Mul")], attributes: [:]),
            Spelling(op: "ReduceMean", name: p + "ReduceMean_1", inputs: [out("Mul")], outputs: [out("ReduceMean_1")],
                     attributes: ["axes": axes, "keepdims": .int(1)]),
            Spelling(op: "Add", name: p + "Add", inputs: [out("ReduceMean_1"), eps], outputs: [out("Add")], attributes: [:],
                     extraData: [(eps, .scalar(epsilon))]),
            Spelling(op: "Sqrt", name: p + "Sqrt", inputs: [out("Add")], outputs: [out("Sqrt")], attributes: [:]),
        ]
        let hasBias = s.inputs.count > 2 && !s.inputs[2].isEmpty
        steps.append(Spelling(op: "Div", name: p + "Div", inputs: [out("Sub"), out("Sqrt")], outputs: [out("Div")], attributes: [:]))
        steps.append(Spelling(op: "Mul", name: hasBias ? p + "Mul_1" : n.name, inputs: [out("Div"), s.inputs[1]],
                              outputs: hasBias ? [out("Mul_1")] : s.outputs, attributes: [:]))
        if hasBias {
            steps.append(Spelling(op: "Add", name: n.name, inputs: [out("Mul_1"), s.inputs[2]], outputs: s.outputs, attributes: [:]))
        }
        return steps
    }

    /// Exact GELU in ops every opset has, as torch.onnx spells it: Div, Erf, Add, Mul, Mul.
    static func geluPrimitives(_ n: Node, _ s: Spelling) -> [Spelling] {
        let p = n.name + "/"
        func out(_ op: String) -> String { p + op + "_output_0" }
        let (sqrt2, one, half) = (p + "sqrt2", p + "one", p + "half")
        return [
            Spelling(op: "Div", name: p + "Div", inputs: [s.inputs[0], sqrt2], outputs: [out("Div")], attributes: [:],
                     extraData: [(sqrt2, .scalar(Float(2).squareRoot()))]),
            Spelling(op: "Erf", name: p + "Erf", inputs: [out("Div")], outputs: [out("Erf")], attributes: [:]),
            Spelling(op: "Add", name: p + "Add", inputs: [out("Erf"), one], outputs: [out("Add")], attributes: [:],
                     extraData: [(one, .scalar(1))]),
            Spelling(op: "Mul", name: p + "Mul", inputs: [s.inputs[0], out("Add")], outputs: [out("Mul")], attributes: [:]),
            Spelling(op: "Mul", name: n.name, inputs: [out("Mul"), half], outputs: s.outputs, attributes: [:],
                     extraData: [(half, .scalar(0.5))]),
        ]
    }

    /// Rewrites an imported node to the IR's (newest) form: older spellings of the same computation,
    /// and older semantics as an exact equivalent in the IR's operators. What has no exact equivalent
    /// is refused (ShapeError naming the attribute or input). `g` is the graph read so far (input types
    /// known); constants the rewrite needs are added to it.
    static func canonicalize(_ node: Node, opset: Int, graph g: inout Graph) throws -> [Node] {
        var n = node
        var made = 0
        func fail(_ m: String) -> ShapeError { ShapeError(layer: n.layer, op: n.op, message: m) }
        func constant(_ t: Tensor) -> ValueID {
            made += 1
            return g.addConstant(name: "\(n.name)/canonical_\(g.values.count)_\(made)", tensor: t, kind: .constant)
        }
        func value(_ label: String, like v: ValueID?) -> ValueID {
            g.addValue(name: "\(n.name)/\(label)_\(g.values.count)", type: TensorType(v.map { g.type(of: $0).dtype } ?? .float32, dims: nil))
        }
        /// An ints attribute moved to input `i` (absent stays absent).
        func attributeToInput(_ key: String, at i: Int) {
            guard let a = n.attributes[key] else { return }
            n.attributes[key] = nil
            guard case .ints(let v) = a else { n.attributes[key] = a; return }  // a wrong type is refused by the view
            while n.inputs.count < i { n.inputs.append(nil) }
            if n.inputs.count == i { n.inputs.append(constant(.vector(v))) } else { n.inputs[i] = constant(.vector(v)) }
        }
        /// A float attribute as a scalar input of X's element type.
        func scalarInput(_ value: Float) throws -> ValueID {
            let dt = n.inputs.first.flatMap { $0.map { g.type(of: $0).dtype } } ?? .float32
            switch dt.storage {
            case .floats: return constant(Tensor(shape: [], floats: [value], dtype: dt))
            case .doubles: return constant(Tensor(shape: [], doubles: [Double(value)]))
            case .ints: throw fail("\(n.op) of \(dt.onnxName) before opset 11 is not defined")
            }
        }
        guard !n.inputs.isEmpty || n.op == "Constant" else { return [n] }
        switch n.op {
        case "Softmax" where opset < 13, "LogSoftmax" where opset < 13, "Hardmax" where opset < 13:
            // Before 13 the input is flattened to 2-D at `axis` (default 1) and normalised over the second
            // dimension: the same as the last axis when `axis` is the last, otherwise Flatten, the
            // operator over the last axis, and a Reshape back.
            guard case .int(let axis)? = n.attributes["axis"] ?? .int(1) else { return [n] }
            let rank = n.inputs[0].map { g.type(of: $0).rank } ?? -1
            if axis == -1 || (rank > 0 && axis == rank - 1) {
                n.attributes["axis"] = .int(-1)
                return [n]
            }
            guard let x = n.inputs[0] else { return [n] }
            let flat = value("Flatten", like: x), out = value(n.op, like: x), shape = g.addValue(name: "\(n.name)/Shape_\(g.values.count)", type: TensorType(.int64, dims: nil))
            return [
                Node(op: "Flatten", name: n.name + "/Flatten", inputs: [x], outputs: [flat], attributes: ["axis": .int(axis)]),
                Node(op: n.op, name: n.name, inputs: [flat], outputs: [out], attributes: ["axis": .int(-1)]),
                Node(op: "Shape", name: n.name + "/Shape", inputs: [x], outputs: [shape]),
                Node(op: "Reshape", name: n.name + "/Reshape", inputs: [out, shape], outputs: n.outputs, attributes: ["allowzero": .int(1)]),
            ]
        case "Split" where opset < 13:
            attributeToInput("split", at: 1)
        case "Squeeze" where opset < 13, "Unsqueeze" where opset < 13:
            attributeToInput("axes", at: 1)
        case "ReduceSum" where opset < 13:
            attributeToInput("axes", at: 1)
        case _ where n.op.hasPrefix("Reduce") && n.op != "ReduceSum" && opset < 18:
            attributeToInput("axes", at: 1)
        case "Slice" where opset < 10:
            attributeToInput("starts", at: 1)
            attributeToInput("ends", at: 2)
            attributeToInput("axes", at: 3)
        case "TopK" where opset < 10:
            if case .int(let k)? = n.attributes["k"] {
                n.attributes["k"] = nil
                n.inputs.append(constant(.vector([k])))
            }
        case "Clip" where opset < 11:
            // min and max were float attributes, defaulting to -3.40282347e38 and 3.40282347e38 (float32's
            // range) whatever the input's type.
            var inputs: [ValueID?] = [n.inputs[0]]
            for (key, bound) in [("min", -Float.greatestFiniteMagnitude), ("max", Float.greatestFiniteMagnitude)] {
                if case .float(let v)? = n.attributes[key] { inputs.append(try scalarInput(v)) } else { inputs.append(try scalarInput(bound)) }
                n.attributes[key] = nil
            }
            n.inputs = inputs
        case "Pad" where opset < 11:
            if case .ints(let pads)? = n.attributes["pads"] {
                n.attributes["pads"] = nil
                var inputs: [ValueID?] = [n.inputs[0], constant(.vector(pads))]
                if case .float(let v)? = n.attributes["value"] { inputs.append(try scalarInput(v)) }
                n.attributes["value"] = nil
                n.inputs = inputs
            }
        case "Dropout":
            if opset < 7, case .int(let test)? = n.attributes["is_test"] {
                guard test != 0 else { throw fail("attribute 'is_test' 0 asks for training mode, which draws random numbers") }
                n.attributes["is_test"] = nil
            }
            if opset < 12 { n.attributes["ratio"] = nil }  // inference ignores the ratio
            if opset < 10 && n.outputs.count > 1 { throw fail("the mask output before opset 10 has the data's type; it is not supported") }
        case "BatchNormalization" where opset < 9:
            if case .int(let spatial)? = n.attributes["spatial"] {
                guard spatial == 1 else { throw fail("attribute 'spatial' 0 (statistics per activation) is not supported") }
                n.attributes["spatial"] = nil
            }
            if case .int(let test)? = n.attributes["is_test"] {
                guard test != 0 else { throw fail("attribute 'is_test' 0 asks for training mode") }
                n.attributes["is_test"] = nil
            }
        case "Concat" where opset < 4:
            if n.attributes["axis"] == nil { n.attributes["axis"] = .int(1) }
        case "Upsample" where opset < 11, "Resize" where opset < 11:
            // Scales: Upsample-7's attribute, else input 1 (which must be a constant).
            var scales: [Float]? = nil
            if !(n.op == "Upsample" && opset < 9) {
                guard n.inputs.count > 1, let v = n.inputs[1] else { throw fail("input 1 ('scales') is required") }
                guard let t = g.constant(v) else { throw fail("input 1 ('scales') must be a constant before opset 11") }
                scales = t.floatValues
            }
            return [try legacyResize(n, scales: scales, constant: constant)]
        case "Resize":
            // An empty roi or scales is the same as an absent one.
            for i in 1..<min(n.inputs.count, 3) where g.constant(n.inputs[i])?.count == 0 { n.inputs[i] = nil }
            while n.inputs.count > 1, n.inputs.last == .some(nil) { n.inputs.removeLast() }
        case "GroupNormalization" where opset < 21:
            // Opset 18 scales and shifts per group; 21 per channel: each group's value gathered for its
            // channels (folded when the values are constants).
            guard case .int(let groups)? = n.attributes["num_groups"], groups > 0, n.inputs.count == 3, let x = n.inputs[0] else {
                throw fail("opset 18's GroupNormalization needs num_groups and its three inputs")
            }
            // Each group's value repeated for its C / num_groups channels: Unsqueeze to (G, 1), Expand to
            // (G, C / G) with C read from X's shape when the model runs, Reshape to (C). Folded when X's
            // channel count and the values are known.
            let shape = g.addValue(name: "\(n.name)/Shape_\(g.values.count)", type: TensorType(.int64, dims: nil))
            let perGroup = g.addValue(name: "\(n.name)/per_group_\(g.values.count)", type: TensorType(.int64, dims: nil))
            let target = g.addValue(name: "\(n.name)/target_\(g.values.count)", type: TensorType(.int64, dims: nil))
            let groupCount = constant(.vector([groups]))
            var nodes = [
                Node(op: "Shape", name: n.name + "/Shape", inputs: [x], outputs: [shape], attributes: ["start": .int(1), "end": .int(2)]),
                Node(op: "Div", name: n.name + "/Div", inputs: [shape, groupCount], outputs: [perGroup]),
                Node(op: "Concat", name: n.name + "/Concat", inputs: [groupCount, perGroup], outputs: [target], attributes: ["axis": .int(0)]),
            ]
            for i in 1...2 {
                guard let v = n.inputs[i] else { continue }
                if let s = g.type(of: v).staticShape, s != [groups] {
                    throw fail("input \(i) is \(g.type(of: v)); opset 18 takes one value per group, [\(groups)]")
                }
                let label = i == 1 ? "scale" : "bias"
                let column = value(label + "_column", like: v), expanded = value(label + "_expanded", like: v), perChannel = value(label, like: v)
                nodes += [
                    Node(op: "Unsqueeze", name: n.name + "/\(label)/Unsqueeze", inputs: [v, constant(.vector([1]))], outputs: [column]),
                    Node(op: "Expand", name: n.name + "/\(label)/Expand", inputs: [column, target], outputs: [expanded]),
                    Node(op: "Reshape", name: n.name + "/\(label)/Reshape", inputs: [expanded, constant(.vector([-1]))], outputs: [perChannel]),
                ]
                n.inputs[i] = perChannel
            }
            return nodes + [n]
        default: break
        }
        return [n]
    }

    /// Upsample (7-9) and Resize-10 as the IR's Resize: asymmetric coordinates, and for nearest the
    /// floor of the source coordinate. Downsampling is refused: runtimes disagree on its rounding.
    static func legacyResize(_ n: Node, scales given: [Float]?, constant: (Tensor) -> ValueID) throws -> Node {
        func fail(_ m: String) -> ShapeError { ShapeError(layer: n.layer, op: n.op, message: m) }
        let scales: [Float]
        if let given {
            scales = given
        } else if case .floats(let v)? = n.attributes["scales"] {
            scales = v
        } else {
            throw fail("attribute 'scales' is missing")
        }
        guard scales.allSatisfy({ $0 >= 1 && $0.isFinite }) else {
            throw fail("scales \(scales) downsample, which \(n.op) before opset 11 leaves to each runtime; export at opset 11 or later")
        }
        var mode = "nearest"
        if case .string(let m)? = n.attributes["mode"] { mode = m }
        guard mode == "nearest" || mode == "linear" else { throw fail("attribute 'mode' is '\(mode)'; \(n.op) defines 'nearest' and 'linear'") }
        let unknown = n.attributes.keys.filter { $0 != "mode" && $0 != "scales" }.sorted()
        guard unknown.isEmpty else { throw fail("attribute '\(unknown[0])' is not one \(n.op) defines (mode, scales)") }
        var attrs: [String: Attribute] = ["mode": .string(mode), "coordinate_transformation_mode": .string("asymmetric")]
        if mode == "nearest" { attrs["nearest_mode"] = .string("floor") }
        return Node(op: "Resize", name: n.name, inputs: [n.inputs[0], nil, constant(Tensor(shape: [scales.count], floats: scales))],
                    outputs: n.outputs, attributes: attrs)
    }
}
