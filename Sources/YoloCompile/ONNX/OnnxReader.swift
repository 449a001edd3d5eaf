import COnnxProto
import CProtobufC
import Foundation

/// What an imported file declared besides its graph.
public struct OnnxModelInfo: Sendable {
    public var opset: Int
    public var irVersion: Int64
    public var producer: String
    /// The graph outputs' types as the file declares them (symbols included), by output.
    public var declaredOutputs: [TensorType?] = []
    /// The nodes as the file writes them (before any folding or respelling), for `inspect --target`.
    public var nodes: [WrittenNode] = []
}

/// A node's name and operator as an ONNX file writes it.
public struct WrittenNode: Sendable, Equatable {
    public var name: String
    public var op: String
    public init(name: String, op: String) {
        self.name = name
        self.op = op
    }
}

/// Reads an ONNX file into the IR, exactly or not at all. Every node is checked against its
/// operator's declaration (opset, attributes, input and output counts, element types) and refused in
/// one line naming the node, the operator and the attribute or input when yolo-compile cannot compute
/// it as ONNX defines it. Older opsets' spellings are rewritten to the IR's (OpsetLegalization);
/// Constant nodes and initializers become constants; nodes whose inputs are all constant (and Shape of a
/// static tensor) are folded as they are read, within a budget (`FoldingBudget`). Inputs may have
/// symbolic or unknown dimensions: such a graph keeps what it cannot infer unknown until it is
/// specialised to concrete inputs.
public enum OnnxReader {
    public static func read(file path: String, budget: FoldingBudget = .standard) throws -> (Graph, OnnxModelInfo) {
        // The file's bytes are released once parsed, before the weights are decoded: a model's weights
        // are then held twice at most (parsed and decoded), not three times.
        let model = try unpack(InputFiles.read(path, expected: "an ONNX model file") { OnnxError(file: path, $0) }, file: path)
        defer { onnx__model_proto__free_unpacked(model, nil) }
        return try read(model: model, file: path, budget: budget)
    }

    public static func read(bytes data: Data, file: String, budget: FoldingBudget = .standard) throws -> (Graph, OnnxModelInfo) {
        let model = try unpack(data, file: file)
        defer { onnx__model_proto__free_unpacked(model, nil) }
        return try read(model: model, file: file, budget: budget)
    }

    static func unpack(_ data: Data, file: String) throws -> UnsafeMutablePointer<Onnx__ModelProto> {
        guard !data.isEmpty else { throw OnnxError(file: file, "is empty, expected an ONNX model") }
        let model = data.withUnsafeBytes { buf in
            onnx__model_proto__unpack(nil, buf.count, buf.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        guard let model else { throw OnnxError(file: file, "is not an ONNX model (the protobuf does not parse: truncated or another format)") }
        return model
    }

    static func read(model: UnsafeMutablePointer<Onnx__ModelProto>, file: String, budget: FoldingBudget) throws -> (Graph, OnnxModelInfo) {
        let m = model.pointee
        guard let gp = m.graph else { throw OnnxError(file: file, "is not an ONNX model (no graph)") }
        var opset = 0
        for i in 0..<m.n_opset_import {
            guard let o = m.opset_import[i]?.pointee else { continue }
            let domain = o.domain.map { String(cString: $0) } ?? ""
            if domain == "" || domain == "ai.onnx" { opset = Int(clamping: o.version) }
        }
        guard opset <= Opset.newestRead else {
            throw OnnxError(file: file, "imports opset \(opset); yolo-compile reads opsets up to \(Opset.newestRead)")
        }
        var info = OnnxModelInfo(opset: opset, irVersion: m.ir_version, producer: cstr(m.producer_name))
        var reader = GraphReader(file: file, opset: opset, budget: budget)
        var g = try reader.read(gp.pointee)
        for i in 0..<gp.pointee.n_output {
            info.declaredOutputs.append(gp.pointee.output[i].flatMap { try? reader.valueType($0.pointee, what: "output") })
        }
        for i in 0..<gp.pointee.n_node {
            guard let n = gp.pointee.node[i]?.pointee else { continue }
            info.nodes.append(WrittenNode(name: cstr(n.name), op: cstr(n.op_type)))
        }
        for i in 0..<m.n_metadata_props {
            guard let e = m.metadata_props[i]?.pointee else { continue }
            g.metadata.append((cstr(e.key), cstr(e.value)))
        }
        return (g, info)
    }

    /// One TensorProto file (the ONNX test data's `input_0.pb`), read with the same decoder as initializers.
    public static func readTensor(file path: String) throws -> Tensor {
        let data = try InputFiles.read(path, expected: "a TensorProto file") { InputError(file: path, $0) }
        guard !data.isEmpty else { throw InputError(file: path, "is empty, expected a TensorProto") }
        let proto = data.withUnsafeBytes { buf in
            onnx__tensor_proto__unpack(nil, buf.count, buf.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        guard let proto else { throw InputError(file: path, "is not a TensorProto (the protobuf does not parse)") }
        defer { onnx__tensor_proto__free_unpacked(proto, nil) }
        do { return try tensor(proto.pointee, file: path, what: cstr(proto.pointee.name)) } catch let e as OnnxError {
            throw InputError(file: path, e.message)
        }
    }

    static func cstr(_ p: UnsafeMutablePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }

    /// TensorProto data from raw_data or the typed fields, in its own element type.
    static func tensor(_ t: Onnx__TensorProto, file: String, what: String) throws -> Tensor {
        let shape = (0..<t.n_dims).map { Int(clamping: t.dims[$0]) }
        guard shape.allSatisfy({ $0 >= 0 }), let count = ShapeRules.elementCount(shape) else {
            throw OnnxError(file: file, "tensor '\(what)' has an invalid shape \(shape)")
        }
        guard t.data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL && t.n_external_data == 0 else {
            throw OnnxError(file: file, "tensor '\(what)' keeps its data in an external file; yolo-compile reads self-contained models (save with onnx.save_model(..., save_as_external_data=False))")
        }
        guard let dt = DType(onnxCode: Int(t.data_type)) else {
            throw OnnxError(file: file, "tensor '\(what)' is \(onnxTypeName(Int(t.data_type))), which yolo-compile does not compute")
        }
        func short(_ have: Int) -> OnnxError {
            OnnxError(file: file, "tensor '\(what)' \(shape) of \(dt.onnxName) needs \(count) values, the file holds \(have)")
        }
        if t.has_raw_data != 0 {
            let raw = UnsafeRawBufferPointer(start: t.raw_data.data, count: t.raw_data.len)
            guard raw.count == count * dt.byteSize else { throw short(raw.count / dt.byteSize) }
            return decodeExact(raw, dtype: dt, shape: shape)
        }
        switch dt {
        case .float32:
            guard t.n_float_data == count else { throw short(t.n_float_data) }
            return Tensor(shape: shape, floats: Array(UnsafeBufferPointer(start: t.float_data, count: count)))
        case .float64:
            guard t.n_double_data == count else { throw short(t.n_double_data) }
            return Tensor(shape: shape, doubles: Array(UnsafeBufferPointer(start: t.double_data, count: count)))
        case .float16:
            guard t.n_int32_data == count else { throw short(t.n_int32_data) }
            return Tensor(shape: shape, floats: (0..<count).map { Float(halfBits: UInt16(truncatingIfNeeded: t.int32_data[$0])) }, dtype: .float16)
        case .int64:
            guard t.n_int64_data == count else { throw short(t.n_int64_data) }
            return Tensor(shape: shape, ints: Array(UnsafeBufferPointer(start: t.int64_data, count: count)))
        case .uint32, .uint64:
            guard t.n_uint64_data == count else { throw short(t.n_uint64_data) }
            return Tensor(shape: shape, ints: (0..<count).map { Int64(bitPattern: t.uint64_data[$0]) }, dtype: dt)
        case .int32, .int16, .int8, .uint16, .uint8, .bool:
            guard t.n_int32_data == count else { throw short(t.n_int32_data) }
            return Tensor(shape: shape, ints: (0..<count).map { Int64(t.int32_data[$0]) }, dtype: dt)
        }
    }
}

/// The state of reading one graph: names to values, the folding budget, the file for messages.
struct GraphReader {
    let file: String
    let opset: Int
    var budget: FoldingBudget
    var g = Graph(name: "")
    var byName: [String: ValueID] = [:]
    var anonymous = 0

    init(file: String, opset: Int, budget: FoldingBudget) {
        self.file = file
        self.opset = opset
        self.budget = budget
    }

    func cstr(_ p: UnsafeMutablePointer<CChar>?) -> String { OnnxReader.cstr(p) }

    func fail(_ node: String, _ op: String, _ message: String) -> OnnxError {
        OnnxError(file: file, "node \(node) (\(op)): \(message)")
    }

    /// How messages name a node: its name, or for an unnamed one its place and first output.
    static func label(_ np: Onnx__NodeProto, index: Int) -> String {
        let name = OnnxReader.cstr(np.name)
        guard name.isEmpty else { return name }
        let out = np.n_output > 0 ? OnnxReader.cstr(np.output[0]) : ""
        return "#\(index)" + (out.isEmpty ? "" : " ('\(out)')")
    }

    mutating func read(_ gp: Onnx__GraphProto) throws -> Graph {
        g = Graph(name: cstr(gp.name))
        try checkOperators(gp)

        for i in 0..<gp.n_initializer {
            guard let t = gp.initializer[i] else { continue }
            let name = cstr(t.pointee.name)
            guard byName[name] == nil else { throw OnnxError(file: file, "initializer '\(name)' is defined twice") }
            byName[name] = g.addConstant(name: name, tensor: try OnnxReader.tensor(t.pointee, file: file, what: name), kind: .parameter)
            // Decoded: its parsed bytes go now rather than with the whole message (free_unpacked skips NULL).
            if t.pointee.has_raw_data != 0, let bytes = t.pointee.raw_data.data {
                free(bytes)
                t.pointee.raw_data = ProtobufCBinaryData(len: 0, data: nil)
            }
        }
        // The budget grows with what the file itself holds (see FoldingBudget.forConstants).
        let held = g.constantElementCount(kinds: [.parameter])
        budget.elements += 2 * held
        budget.multiplyAdds += 4 * Double(held)
        for i in 0..<gp.n_input {
            guard let vi = gp.input[i]?.pointee else { continue }
            let name = cstr(vi.name)
            if byName[name] != nil { continue }  // initializers may be listed as inputs (IR < 4)
            let v = g.addValue(name: name, type: try valueType(vi, what: "input"))
            g.inputs.append(v)
            byName[name] = v
        }
        for i in 0..<gp.n_node {
            guard let np = gp.node[i]?.pointee else { continue }
            try readNode(np, label: GraphReader.label(np, index: i))
        }
        for i in 0..<gp.n_output {
            guard let vi = gp.output[i]?.pointee else { continue }
            let name = cstr(vi.name)
            guard let v = byName[name] else { throw OnnxError(file: file, "graph output '\(name)' is never computed") }
            g.outputs.append(v)
        }
        return g
    }

    /// Operators with no declaration, in another domain, or outside the opsets their declaration
    /// covers are reported together, before any work.
    func checkOperators(_ gp: Onnx__GraphProto) throws {
        var problems: [String] = []
        var reported = Set<String>()  // one line per operator and reason, naming its first node
        for i in 0..<gp.n_node {
            guard let n = gp.node[i]?.pointee else { continue }
            let op = cstr(n.op_type), domain = cstr(n.domain)
            let label = "node \(GraphReader.label(n, index: i)) (\(domain.isEmpty ? op : domain + "." + op))"
            var problem: String? = nil
            if !(domain == "" || domain == "ai.onnx") {
                problem = "\(label): domain '\(domain)' is not supported"
            } else if opset == 0 {
                problem = "\(label): the file declares no default-domain opset"
            } else if op == "Constant" {
                continue
            } else if let legacy = OpsetLegalization.legacyOperators[op] {
                if !legacy.contains(opset) {
                    problem = "\(label): \(op) is defined for opsets \(legacy.lowerBound) to \(legacy.upperBound); the file imports opset \(opset)"
                }
            } else if let s = Operators.schema(op) {
                if let removed = s.removedAt, opset >= removed {
                    problem = "\(label): \(op) was removed from ONNX at opset \(removed); the file imports opset \(opset)"
                } else if !s.acceptsOpset(opset) {
                    problem = "\(label): \(op) before opset \(s.versions[0]) is not supported (the file imports opset \(opset))"
                }
            } else {
                problem = "\(label): operator \(op) is not supported"
            }
            if let problem, reported.insert(domain + "." + op).inserted { problems.append(problem) }
        }
        guard !problems.isEmpty else { return }
        let shown = problems.prefix(8).joined(separator: "; ")
        throw OnnxError(file: file, shown + (problems.count > 8 ? "; and \(problems.count - 8) more" : ""))
    }

    mutating func readNode(_ np: Onnx__NodeProto, label: String) throws {
        let op = cstr(np.op_type)
        let name = cstr(np.name)
        var attrs: [String: Attribute] = [:]
        for j in 0..<np.n_attribute {
            guard let a = np.attribute[j]?.pointee else { continue }
            let key = cstr(a.name)
            guard attrs[key] == nil else { throw fail(label, op, "attribute '\(key)' is given twice") }
            attrs[key] = try attribute(a, node: label, op: op)
        }
        var outNames = (0..<np.n_output).map { cstr(np.output[$0]) }
        while outNames.last == "" { outNames.removeLast() }  // trailing optional outputs left out
        guard !outNames.isEmpty else { throw fail(label, op, "has no named outputs") }
        for o in outNames where !o.isEmpty && byName[o] != nil {
            throw fail(label, op, "defines '\(o)', which is already defined (ONNX values are assigned once)")
        }
        if op == "Constant" {
            guard outNames.count == 1 else { throw fail(label, op, "must have one output") }
            let t = try constantValue(attrs, node: label)
            byName[outNames[0]] = g.addConstant(name: outNames[0], tensor: t, kind: .constant)
            return
        }
        var inputs: [ValueID?] = []
        for j in 0..<np.n_input {
            let inName = cstr(np.input[j])
            if inName.isEmpty { inputs.append(nil); continue }
            guard let v = byName[inName] else {
                throw fail(label, op, "reads '\(inName)', which nothing defines before it")
            }
            inputs.append(v)
        }
        while inputs.count > 0, inputs.last == .some(nil) { inputs.removeLast() }
        var node = Node(op: op, name: name, inputs: inputs, outputs: [], attributes: attrs)
        // Outputs left unnamed in the middle (an optional output the model does not read) get a name.
        for o in outNames {
            var valueName = o
            if o.isEmpty { anonymous += 1; valueName = "\(name)/unused_output_\(anonymous)" }
            let v = g.addValue(name: valueName, type: TensorType(.float32, dims: nil))
            node.outputs.append(v)
            if !o.isEmpty { byName[o] = v }
        }
        let nodes: [Node]
        do {
            nodes = try OpsetLegalization.canonicalize(node, opset: opset, graph: &g)
        } catch let e as ShapeError {
            throw fail(label, op, e.message)
        }
        for n in nodes {
            do { try GraphInference.place(n, in: &g, budget: &budget) } catch let e as ShapeError {
                throw fail(n.name == name ? label : e.node ?? n.name, n.op == op ? op : "\(op) as \(n.op)", e.message)
            }
        }
    }

    /// The value of a Constant node, whichever of its attributes carries it.
    func constantValue(_ attrs: [String: Attribute], node: String) throws -> Tensor {
        guard attrs.count == 1, let (key, value) = attrs.first else {
            throw fail(node, "Constant", "must have exactly one value attribute, has \(attrs.keys.sorted())")
        }
        switch (key, value) {
        case ("value", .tensor(let t)): return t
        case ("value_float", .float(let f)): return .scalar(f)
        case ("value_floats", .floats(let f)): return .vector(f)
        case ("value_int", .int(let v)): return Tensor(shape: [], ints: [Int64(v)])
        case ("value_ints", .ints(let v)): return .vector(v)
        default: throw fail(node, "Constant", "attribute '\(key)' (\(value.kindName)) is not a value yolo-compile reads (value, value_float(s), value_int(s))")
        }
    }

    func valueType(_ vi: Onnx__ValueInfoProto, what: String) throws -> TensorType {
        let name = cstr(vi.name)
        guard let tp = vi.type?.pointee else { throw OnnxError(file: file, "\(what) '\(name)' has no type") }
        guard tp.value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, let tt = tp.tensor_type?.pointee else {
            let kind = tp.value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE ? "a sequence"
                : tp.value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE ? "an optional" : "not a tensor"
            throw OnnxError(file: file, "\(what) '\(name)' is \(kind); yolo-compile reads tensors")
        }
        guard let dt = DType(onnxCode: Int(tt.elem_type)) else {
            throw OnnxError(file: file, "\(what) '\(name)' is \(onnxTypeName(Int(tt.elem_type))), which yolo-compile does not compute")
        }
        guard let sp = tt.shape?.pointee else { return TensorType(dt, dims: nil) }
        var dims: [Dim] = []
        for i in 0..<sp.n_dim {
            guard let d = sp.dim[i]?.pointee else { dims.append(.unknown); continue }
            switch d.value_case {
            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE:
                guard d.dim_value >= 0, d.dim_value <= Int64(ShapeRules.maxElements) else {
                    throw OnnxError(file: file, "\(what) '\(name)' has an invalid dimension \(d.dim_value)")
                }
                dims.append(.value(Int(d.dim_value)))
            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM:
                let s = cstr(d.dim_param)
                dims.append(s.isEmpty ? .unknown : .symbol(s))
            default: dims.append(.unknown)
            }
        }
        let t = TensorType(dt, dims: dims)
        if let s = t.staticShape, ShapeRules.elementCount(s) == nil {
            throw OnnxError(file: file, "\(what) '\(name)' has an invalid shape \(s)")
        }
        return t
    }

    func attribute(_ a: Onnx__AttributeProto, node: String, op: String) throws -> Attribute {
        let key = cstr(a.name)
        switch a.type {
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return .int(Int(clamping: a.i))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return .ints((0..<a.n_ints).map { Int(clamping: a.ints[$0]) })
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return .float(a.f)
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return .floats((0..<a.n_floats).map { a.floats[$0] })
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
            return .string(String(decoding: UnsafeBufferPointer(start: a.s.data, count: a.s.len), as: UTF8.self))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS:
            return .strings((0..<a.n_strings).map { String(decoding: UnsafeBufferPointer(start: a.strings[$0].data, count: a.strings[$0].len), as: UTF8.self) })
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
            guard let t = a.t?.pointee else { throw fail(node, op, "attribute '\(key)' has no tensor") }
            return .tensor(try OnnxReader.tensor(t, file: file, what: "\(node).\(key)"))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED:
            // Files from before attribute types were written (IR version 1): the one field set says it.
            if a.has_i != 0 { return .int(Int(clamping: a.i)) }
            if a.has_f != 0 { return .float(a.f) }
            if a.has_s != 0 { return .string(String(decoding: UnsafeBufferPointer(start: a.s.data, count: a.s.len), as: UTF8.self)) }
            if a.n_ints > 0 { return .ints((0..<a.n_ints).map { Int(clamping: a.ints[$0]) }) }
            if a.n_floats > 0 { return .floats((0..<a.n_floats).map { a.floats[$0] }) }
            if let t = a.t?.pointee { return .tensor(try OnnxReader.tensor(t, file: file, what: "\(node).\(key)")) }
            throw fail(node, op, "attribute '\(key)' has no type and no value")
        default:
            throw fail(node, op, "attribute '\(key)' has type \(a.type.rawValue) (graphs, sparse tensors and type protos are not supported)")
        }
    }
}
