import COnnxProto
import CProtobufC
import Foundation

/// What an imported file declared besides its graph.
public struct OnnxModelInfo: Sendable {
    public var opset: Int
    public var irVersion: Int64
    public var producer: String
}

/// Reads an ONNX file into the IR. Constant nodes and initializers become constants; nodes whose
/// inputs are all constant (PyTorch's Shape -> Gather -> Unsqueeze -> Concat chains) are evaluated as
/// they are read, so every shape is static; older opsets' spellings are rewritten to the IR's.
public enum OnnxReader {
    public static func read(file path: String) throws -> (Graph, OnnxModelInfo) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw OnnxError(file: path, "no such file") }
        guard !isDir.boolValue else { throw OnnxError(file: path, "is a directory, expected an ONNX model file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw OnnxError(file: path, "cannot read the file") }
        return try read(bytes: data, file: path)
    }

    public static func read(bytes data: Data, file: String) throws -> (Graph, OnnxModelInfo) {
        guard !data.isEmpty else { throw OnnxError(file: file, "is empty, expected an ONNX model") }
        let model = data.withUnsafeBytes { buf in
            onnx__model_proto__unpack(nil, buf.count, buf.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        guard let model else { throw OnnxError(file: file, "is not an ONNX model (the protobuf does not parse: truncated or another format)") }
        defer { onnx__model_proto__free_unpacked(model, nil) }
        let m = model.pointee
        guard let gp = m.graph else { throw OnnxError(file: file, "is not an ONNX model (no graph)") }
        var opset = 0
        for i in 0..<m.n_opset_import {
            guard let o = m.opset_import[i]?.pointee else { continue }
            let domain = o.domain.map { String(cString: $0) } ?? ""
            if domain == "" || domain == "ai.onnx" { opset = Int(o.version) }
        }
        guard opset > 0 else { throw OnnxError(file: file, "declares no default-domain opset") }
        let info = OnnxModelInfo(opset: opset, irVersion: m.ir_version,
                                 producer: m.producer_name.map { String(cString: $0) } ?? "")
        var g = try readGraph(gp.pointee, opset: opset, file: file)
        for i in 0..<m.n_metadata_props {
            guard let e = m.metadata_props[i]?.pointee else { continue }
            g.metadata.append((cstr(e.key), cstr(e.value)))
        }
        return (g, info)
    }

    static func cstr(_ p: UnsafeMutablePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }

    static func readGraph(_ gp: Onnx__GraphProto, opset: Int, file: String) throws -> Graph {
        var g = Graph(name: cstr(gp.name))
        var byName: [String: ValueID] = [:]

        // Unsupported operators are reported together, before any work.
        var unsupported: [String] = []
        for i in 0..<gp.n_node {
            guard let n = gp.node[i]?.pointee else { continue }
            let op = cstr(n.op_type)
            let domain = cstr(n.domain)
            let known = op == "Constant" || (ShapeRules.rules[op] != nil && Kernels.table[op] != nil)
            if !known || !(domain == "" || domain == "ai.onnx") {
                let label = domain.isEmpty ? op : domain + "." + op
                if !unsupported.contains(label) { unsupported.append(label) }
            }
        }
        if !unsupported.isEmpty {
            throw OnnxError(file: file, "unsupported operators: \(unsupported.joined(separator: ", "))")
        }

        for i in 0..<gp.n_initializer {
            guard let t = gp.initializer[i] else { continue }
            let name = cstr(t.pointee.name)
            byName[name] = g.addConstant(name: name, tensor: try tensor(t.pointee, file: file, what: name), kind: .parameter)
        }
        for i in 0..<gp.n_input {
            guard let vi = gp.input[i]?.pointee else { continue }
            let name = cstr(vi.name)
            if byName[name] != nil { continue }  // initializers may be listed as inputs (IR < 4)
            let v = g.addValue(name: name, type: try valueType(vi, file: file))
            g.inputs.append(v)
            byName[name] = v
        }

        for i in 0..<gp.n_node {
            guard let np = gp.node[i]?.pointee else { continue }
            let op = cstr(np.op_type)
            let name = cstr(np.name)
            var attrs: [String: Attribute] = [:]
            for j in 0..<np.n_attribute {
                guard let a = np.attribute[j]?.pointee else { continue }
                attrs[cstr(a.name)] = try attribute(a, file: file, node: name)
            }
            let outNames = (0..<np.n_output).map { cstr(np.output[$0]) }
            guard !outNames.isEmpty, outNames.allSatisfy({ !$0.isEmpty }) else {
                throw OnnxError(file: file, "node \(name) (\(op)) has no named outputs")
            }
            for o in outNames where byName[o] != nil {
                throw OnnxError(file: file, "node \(name) (\(op)) defines '\(o)', which is already defined (ONNX values are assigned once)")
            }
            if op != "Constant" && np.n_input == 0 {
                throw OnnxError(file: file, "node \(name) (\(op)) has no inputs")
            }
            if op == "Constant" {
                guard let t = constantValue(attrs) else {
                    throw OnnxError(file: file, "node \(name): Constant without a supported value attribute")
                }
                byName[outNames[0]] = g.addConstant(name: outNames[0], tensor: t, kind: .constant)
                continue
            }
            var inputs: [ValueID?] = []
            for j in 0..<np.n_input {
                let inName = cstr(np.input[j])
                if inName.isEmpty { inputs.append(nil); continue }
                guard let v = byName[inName] else {
                    throw OnnxError(file: file, "node \(name) (\(op)) reads '\(inName)', which nothing defines before it")
                }
                inputs.append(v)
            }
            var node = Node(op: op, name: name, inputs: inputs, outputs: [], attributes: attrs)
            try OpsetLegalization.canonicalize(&node, opset: opset, graph: g, file: file) { t in
                g.addConstant(name: name + "/const\(g.values.count)", tensor: t, kind: .constant)
            }
            let ctx = ShapeContext(node: node, inputTypes: node.inputs.map { $0.map(g.type(of:)) },
                                   constants: node.inputs.map { g.constant($0) }, outputCount: outNames.count)
            let types: [TensorType]
            do { types = try ShapeRules.infer(ctx) } catch let e as ShapeError {
                throw OnnxError(file: file, "node \(name) (\(op)): \(e.message)")
            }
            let foldable = op == "Shape" || (!node.inputs.isEmpty && node.inputs.allSatisfy { $0.map { g.constants[$0] != nil } ?? true })
            if foldable {
                let results: [Tensor]
                if op == "Shape", let x = node.inputs[0] {
                    results = [.vector(g.type(of: x).shape)]
                } else {
                    results = try Kernels.run(KernelContext(node: node, inputs: node.inputs.map { g.constant($0) }, outputTypes: types))
                }
                for (o, t) in zip(outNames, results) { byName[o] = g.addConstant(name: o, tensor: t, kind: .constant) }
                continue
            }
            node.outputs = zip(outNames, types).map { g.addValue(name: $0.0, type: $0.1) }
            for (o, v) in zip(outNames, node.outputs) { byName[o] = v }
            g.nodes.append(node)
        }
        for i in 0..<gp.n_output {
            guard let vi = gp.output[i]?.pointee else { continue }
            let name = cstr(vi.name)
            guard let v = byName[name] else { throw OnnxError(file: file, "graph output '\(name)' is never computed") }
            g.outputs.append(v)
        }
        return g
    }

    /// The value of a Constant node, whichever of its attributes carries it.
    static func constantValue(_ attrs: [String: Attribute]) -> Tensor? {
        switch attrs["value"] ?? attrs["value_float"] ?? attrs["value_floats"] ?? attrs["value_int"] ?? attrs["value_ints"] {
        case .tensor(let t)?: return t
        case .float(let f)?: return .scalar(f)
        case .floats(let f)?: return .vector(f)
        case .int(let v)?: return Tensor(shape: [], ints: [Int64(v)])
        case .ints(let v)?: return .vector(v)
        default: return nil
        }
    }

    static func valueType(_ vi: Onnx__ValueInfoProto, file: String) throws -> TensorType {
        let name = cstr(vi.name)
        guard let tp = vi.type?.pointee, tp.value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, let tt = tp.tensor_type?.pointee else {
            throw OnnxError(file: file, "input '\(name)' is not a tensor")
        }
        guard let dt = DType(onnxCode: Int(tt.elem_type)) else {
            throw OnnxError(file: file, "input '\(name)' has unsupported element type \(tt.elem_type)")
        }
        guard let sp = tt.shape?.pointee else { throw OnnxError(file: file, "input '\(name)' has no shape; yolo-compile needs static shapes") }
        var shape: [Int] = []
        for i in 0..<sp.n_dim {
            guard let d = sp.dim[i]?.pointee, d.value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE else {
                throw OnnxError(file: file, "input '\(name)' has a dynamic dimension \(i); export it with a static shape")
            }
            shape.append(Int(d.dim_value))
        }
        guard ShapeRules.elementCount(shape) != nil, shape.allSatisfy({ $0 >= 1 }) else {
            throw OnnxError(file: file, "input '\(name)' has an invalid shape \(shape)")
        }
        return TensorType(dt == .float16 ? .float32 : dt, shape)
    }

    static func attribute(_ a: Onnx__AttributeProto, file: String, node: String) throws -> Attribute {
        switch a.type {
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return .int(Int(a.i))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return .ints((0..<a.n_ints).map { Int(a.ints[$0]) })
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return .float(a.f)
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return .floats((0..<a.n_floats).map { a.floats[$0] })
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
            return .string(String(decoding: UnsafeBufferPointer(start: a.s.data, count: a.s.len), as: UTF8.self))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
            guard let t = a.t?.pointee else { throw OnnxError(file: file, "node \(node): attribute \(cstr(a.name)) has no tensor") }
            return .tensor(try tensor(t, file: file, what: "\(node).\(cstr(a.name))"))
        default:
            throw OnnxError(file: file, "node \(node): attribute \(cstr(a.name)) has unsupported type \(a.type.rawValue)")
        }
    }

    /// TensorProto data from raw_data or the typed fields; float16 widens to float32.
    static func tensor(_ t: Onnx__TensorProto, file: String, what: String) throws -> Tensor {
        let shape = (0..<t.n_dims).map { Int(t.dims[$0]) }
        guard let count = ShapeRules.elementCount(shape) else {
            throw OnnxError(file: file, "tensor \(what) has an invalid shape \(shape)")
        }
        guard let dt = DType(onnxCode: Int(t.data_type)) else {
            throw OnnxError(file: file, "tensor \(what) has unsupported data type \(t.data_type)")
        }
        let raw = t.has_raw_data != 0 ? UnsafeRawBufferPointer(start: t.raw_data.data, count: t.raw_data.len) : nil
        func short(_ have: Int) -> OnnxError {
            OnnxError(file: file, "tensor \(what) \(shape) of \(dt.rawValue) needs \(count) values, the file holds \(have)")
        }
        if let raw {
            let code: String = switch dt {
            case .float32: "F32"
            case .float16: "F16"
            case .int64: "I64"
            case .int32: "I32"
            case .bool: "BOOL"
            }
            guard raw.count == count * dt.byteSize, let v = decodeTensor(raw, dtype: code, shape: shape) else {
                throw short(raw.count / dt.byteSize)
            }
            return v
        }
        switch dt {
        case .float32:
            guard t.n_float_data == count else { throw short(t.n_float_data) }
            return Tensor(shape: shape, floats: Array(UnsafeBufferPointer(start: t.float_data, count: count)))
        case .float16:
            guard t.n_int32_data == count else { throw short(t.n_int32_data) }
            return Tensor(shape: shape, floats: (0..<count).map { Float(halfBits: UInt16(truncatingIfNeeded: t.int32_data[$0])) })
        case .int64:
            guard t.n_int64_data == count else { throw short(t.n_int64_data) }
            return Tensor(shape: shape, ints: Array(UnsafeBufferPointer(start: t.int64_data, count: count)))
        case .int32, .bool:
            guard t.n_int32_data == count else { throw short(t.n_int32_data) }
            return Tensor(shape: shape, ints: (0..<count).map { Int64(t.int32_data[$0]) }, dtype: dt)
        }
    }
}

extension Float {
    /// IEEE 754 half precision bits to single.
    public init(halfBits h: UInt16) { self = Float(Float16(bitPattern: h)) }
}
