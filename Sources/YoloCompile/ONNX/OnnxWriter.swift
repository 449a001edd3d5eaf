import COnnxProto
import CProtobufC
import Foundation

public struct OnnxWriteOptions: Sendable {
    public var opset: Int = Opset.defaultVersion
    /// Write float tensors as FLOAT16 (`export --half`): an encoding of the same graph, rounded once
    /// on the way out. Inputs ONNX requires in float32 (Resize's roi and scales) stay float32.
    public var float16 = false
    /// Write every intermediate value's type as value_info (engines that do not infer shapes, libonnx).
    public var valueInfo = false
    public var producerName = "yolo-compile"
    public var producerVersion = yoloCompileVersion

    public init(opset: Int = Opset.defaultVersion, float16: Bool = false, valueInfo: Bool = false) {
        self.opset = opset
        self.float16 = float16
        self.valueInfo = valueInfo
    }
}

/// Serialises a graph as an ONNX ModelProto through protobuf-c. Weights are `raw_data` initializers
/// (little-endian), attributes are written sorted by name, and only constants some node reads are
/// written, so the same graph always gives the same bytes.
public enum OnnxWriter {
    public static func serialize(_ g: Graph, options: OnnxWriteOptions = OnnxWriteOptions()) throws -> [UInt8] {
        try withModel(g, options: options) { model in
            let size = onnx__model_proto__get_packed_size(model)
            var bytes = [UInt8](repeating: 0, count: size)
            let written = bytes.withUnsafeMutableBufferPointer { onnx__model_proto__pack(model, $0.baseAddress) }
            guard written == size else { throw OnnxError(file: g.name, "protobuf-c packed \(written) of \(size) bytes") }
            return bytes
        }
    }

    /// Writes the model to `path` through an exclusive temporary file in the same folder and a rename
    /// (`OutputFiles`), so a failure or a signal never leaves a partial model behind. protobuf-c streams the message into the file
    /// (no second in-memory copy of the weights).
    public static func write(_ g: Graph, to path: String, options: OnnxWriteOptions = OnnxWriteOptions()) throws {
        try OutputFiles.write([(path, { file in
            try withModel(g, options: options) { model in
                // A ProtobufCBuffer whose append writes to the FILE*, which sits right after it in memory.
                let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<ProtobufCBuffer>.stride + 8, alignment: 16)
                defer { raw.deallocate() }
                let buffer = raw.bindMemory(to: ProtobufCBuffer.self, capacity: 1)
                buffer.pointee.append = { b, len, data in
                    guard let b, let data else { return }
                    let f = UnsafeMutableRawPointer(b).load(fromByteOffset: MemoryLayout<ProtobufCBuffer>.stride, as: UnsafeMutablePointer<FILE>.self)
                    fwrite(data, 1, len, f)
                }
                raw.storeBytes(of: file, toByteOffset: MemoryLayout<ProtobufCBuffer>.stride, as: UnsafeMutablePointer<FILE>.self)
                _ = onnx__model_proto__pack_to_buffer(model, buffer)
            }
        })])
    }

    /// Builds the protobuf-c message tree for `g` and hands it to `body`; its memory is freed after.
    static func withModel<T>(_ g: Graph, options: OnnxWriteOptions, _ body: (UnsafeMutablePointer<Onnx__ModelProto>) throws -> T) throws -> T {
        guard Opset.supported.contains(options.opset) else {
            throw OnnxError(file: g.name, "opset \(options.opset) is not supported (choose \(Opset.supported.lowerBound) to \(Opset.supported.upperBound))")
        }
        let arena = CArena()
        let graph = arena.allocate(Onnx__GraphProto.self, count: 1)
        onnx__graph_proto__init(graph)
        graph.pointee.name = arena.string(g.name)

        var used = Set<ValueID>(g.outputs)
        var extra: [(String, Tensor)] = []
        var extraData: [(String, Tensor)] = []
        var nodes: [UnsafeMutablePointer<Onnx__NodeProto>?] = []
        var spelledInputs = Set<String>()
        var spelledTypes: [(String, TensorType)] = []
        for n in g.nodes {
            for v in n.inputs.compactMap({ $0 }) { used.insert(v) }
            for var spelled in try OpsetLegalization.export(n, opset: options.opset, graph: g) {
                // Written as float16, a Cast to float32 (a dynamic grid's indices) casts to float16.
                if options.float16, spelled.op == "Cast", spelled.attributes["to"] == .int(Int(DType.float32.onnxCode)) {
                    spelled.attributes["to"] = .int(Int(DType.float16.onnxCode))
                }
                extra += spelled.extra
                extraData += spelled.extraData
                spelledTypes += spelled.newTypes
                spelledInputs.formUnion(spelled.inputs)
                nodes.append(node(spelled, arena))
            }
        }
        // Inputs the spelling dropped (Split sizes below opset 13) are not written.
        graph.pointee.n_node = nodes.count
        graph.pointee.node = arena.array(nodes)

        var inits: [UnsafeMutablePointer<Onnx__TensorProto>?] = []
        let written = g.orderedConstants.filter { v, _ in used.contains(v) && (spelledInputs.contains(g.name(of: v)) || g.outputs.contains(v)) }
        // Inputs whose declaration takes no float16 (Resize's scales and roi) stay float32.
        var keepFloat32 = Set<ValueID>()
        for n in g.nodes {
            guard let s = Operators.schema(n.op) else { continue }
            for (i, v) in n.inputs.enumerated() {
                guard let v, let spec = s.inputSpec(i), let types = s.types[spec.type], !types.allows(.float16) else { continue }
                keepFloat32.insert(v)
            }
        }
        func half(_ v: ValueID) -> Bool { options.float16 && g.type(of: v).dtype == .float32 && !keepFloat32.contains(v) }
        for (v, c) in written { inits.append(tensor(c.tensor, name: g.name(of: v), half: half(v), arena)) }
        // Model numbers the spelling adds come before the placeholders: re-imported, they are ordinary
        // initializers and the placeholders are dropped, so this order round-trips.
        // Not pinned: only the graph's own constants are filled in by `pinned`; these are copied now.
        for (name, t) in extraData { inits.append(tensor(t, name: name, half: options.float16, pinned: false, arena)) }
        for (name, t) in extra { inits.append(tensor(t, name: name, half: false, pinned: false, arena)) }
        graph.pointee.n_initializer = inits.count
        graph.pointee.initializer = arena.array(inits)

        let ins = g.inputs.map { valueInfo(g.name(of: $0), g.type(of: $0), half: half($0), arena) }
        graph.pointee.n_input = ins.count
        graph.pointee.input = arena.array(ins)
        let outs = g.outputs.map { valueInfo(g.name(of: $0), g.type(of: $0), half: half($0), arena) }
        graph.pointee.n_output = outs.count
        graph.pointee.output = arena.array(outs)
        if options.valueInfo {
            let interface = Set(g.inputs + g.outputs)
            let infos = g.nodes.flatMap(\.outputs).filter { !interface.contains($0) }
                .map { valueInfo(g.name(of: $0), g.type(of: $0), half: half($0), arena) }
                + spelledTypes.map { valueInfo($0.0, $0.1, half: options.float16 && $0.1.dtype == .float32, arena) }
            graph.pointee.n_value_info = infos.count
            graph.pointee.value_info = arena.array(infos)
        }

        let model = arena.allocate(Onnx__ModelProto.self, count: 1)
        onnx__model_proto__init(model)
        model.pointee.has_ir_version = 1
        model.pointee.ir_version = Opset.irVersion(for: options.opset)
        let opset = arena.allocate(Onnx__OperatorSetIdProto.self, count: 1)
        onnx__operator_set_id_proto__init(opset)
        opset.pointee.domain = arena.string("")
        opset.pointee.has_version = 1
        opset.pointee.version = Int64(options.opset)
        model.pointee.n_opset_import = 1
        model.pointee.opset_import = arena.array([Optional(opset)])
        model.pointee.producer_name = arena.string(options.producerName)
        model.pointee.producer_version = arena.string(options.producerVersion)
        model.pointee.graph = graph
        let props = g.metadata.map { kv -> UnsafeMutablePointer<Onnx__StringStringEntryProto>? in
            let e = arena.allocate(Onnx__StringStringEntryProto.self, count: 1)
            onnx__string_string_entry_proto__init(e)
            e.pointee.key = arena.string(kv.key)
            e.pointee.value = arena.string(kv.value)
            return e
        }
        model.pointee.n_metadata_props = props.count
        model.pointee.metadata_props = arena.array(props)

        // Float and int64 initializers point into the graph's own arrays, pinned for the duration of
        // `body`, instead of being copied into C memory: the weights are held once.
        let pinnable = zip(written, inits).filter { !half($0.0.0) }
        return try pinned(pinnable.map { $0.0.1.tensor }[...], pinnable.map { $0.1 }) { try body(model) }
    }

    /// Runs `body` with each tensor's bytes pinned and set as the raw_data of its TensorProto.
    static func pinned<T>(_ tensors: ArraySlice<Tensor>, _ protos: [UnsafeMutablePointer<Onnx__TensorProto>?],
                          _ body: () throws -> T) rethrows -> T
    {
        guard let t = tensors.first, let proto = protos[protos.count - tensors.count] else { return try body() }
        func pin(_ raw: UnsafeRawBufferPointer) throws -> T {
            if let base = raw.baseAddress {
                proto.pointee.raw_data = ProtobufCBinaryData(len: raw.count, data: UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self)))
            }
            return try pinned(tensors.dropFirst(), protos, body)
        }
        if t.dtype == .float32 { return try t.floats.withUnsafeBytes(pin) }
        if t.dtype == .int64 { return try t.ints.withUnsafeBytes(pin) }
        return try pinned(tensors.dropFirst(), protos, body)
    }

    static func node(_ s: OpsetLegalization.Spelling, _ arena: CArena) -> UnsafeMutablePointer<Onnx__NodeProto> {
        var s = s
        while s.inputs.last == "" { s.inputs.removeLast() }  // a trailing absent input is written as none, as the reader reads it
        let p = arena.allocate(Onnx__NodeProto.self, count: 1)
        onnx__node_proto__init(p)
        p.pointee.n_input = s.inputs.count
        p.pointee.input = arena.array(s.inputs.map { Optional(arena.string($0)) })
        p.pointee.n_output = s.outputs.count
        p.pointee.output = arena.array(s.outputs.map { Optional(arena.string($0)) })
        p.pointee.name = arena.string(s.name)
        p.pointee.op_type = arena.string(s.op)
        let attrs = s.attributes.sorted { $0.key < $1.key }.map { attribute($0.key, $0.value, arena) }
        p.pointee.n_attribute = attrs.count
        p.pointee.attribute = arena.array(attrs)
        return p
    }

    static func attribute(_ name: String, _ a: Attribute, _ arena: CArena) -> UnsafeMutablePointer<Onnx__AttributeProto>? {
        let p = arena.allocate(Onnx__AttributeProto.self, count: 1)
        onnx__attribute_proto__init(p)
        p.pointee.name = arena.string(name)
        p.pointee.has_type = 1
        switch a {
        case .int(let v):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT
            p.pointee.has_i = 1
            p.pointee.i = Int64(v)
        case .ints(let v):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS
            p.pointee.n_ints = v.count
            p.pointee.ints = arena.array(v.map(Int64.init))
        case .float(let v):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT
            p.pointee.has_f = 1
            p.pointee.f = v
        case .floats(let v):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS
            p.pointee.n_floats = v.count
            p.pointee.floats = arena.array(v)
        case .string(let v):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING
            p.pointee.has_s = 1
            let utf8 = Array(v.utf8)
            p.pointee.s = ProtobufCBinaryData(len: utf8.count, data: utf8.withUnsafeBytes { arena.bytes($0) })
        case .strings(let v):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS
            p.pointee.n_strings = v.count
            p.pointee.strings = arena.array(v.map { s in
                let utf8 = Array(s.utf8)
                return ProtobufCBinaryData(len: utf8.count, data: utf8.withUnsafeBytes { arena.bytes($0) })
            })
        case .tensor(let t):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR
            p.pointee.t = tensor(t, name: nil, half: false, pinned: false, arena)
        }
        return p
    }

    /// A TensorProto for `t`. With `pinned`, float and int64 data is left for `pinned(_:_:_:)` to point
    /// at the graph's own array; otherwise it is copied into the arena.
    static func tensor(_ t: Tensor, name: String?, half: Bool, pinned: Bool = true, _ arena: CArena) -> UnsafeMutablePointer<Onnx__TensorProto> {
        let p = arena.allocate(Onnx__TensorProto.self, count: 1)
        onnx__tensor_proto__init(p)
        p.pointee.n_dims = t.shape.count
        p.pointee.dims = arena.array(t.shape.map(Int64.init))
        p.pointee.has_data_type = 1
        p.pointee.data_type = half ? DType.float16.onnxCode : t.dtype.onnxCode
        if let name { p.pointee.name = arena.string(name) }
        p.pointee.has_raw_data = 1
        let data: UnsafeMutablePointer<UInt8>
        let count: Int
        if half {
            let bits = t.floats.map { Float16($0).bitPattern }
            data = bits.withUnsafeBytes { arena.bytes($0) }
            count = bits.count * 2
        } else if pinned && (t.dtype == .float32 || t.dtype == .int64) {
            // Filled in by `pinned` (no copy); only the length is set here.
            data = arena.allocate(UInt8.self, count: 1)
            count = t.count * t.dtype.byteSize
        } else {
            let bytes = encodeExact(t)
            data = bytes.withUnsafeBytes { arena.bytes($0) }
            count = bytes.count
        }
        p.pointee.raw_data = ProtobufCBinaryData(len: count, data: data)
        return p
    }

    static func valueInfo(_ name: String, _ type: TensorType, half: Bool, _ arena: CArena) -> UnsafeMutablePointer<Onnx__ValueInfoProto>? {
        let vi = arena.allocate(Onnx__ValueInfoProto.self, count: 1)
        onnx__value_info_proto__init(vi)
        vi.pointee.name = arena.string(name)
        let tp = arena.allocate(Onnx__TypeProto.self, count: 1)
        onnx__type_proto__init(tp)
        let tt = arena.allocate(Onnx__TypeProto__Tensor.self, count: 1)
        onnx__type_proto__tensor__init(tt)
        tt.pointee.has_elem_type = 1
        tt.pointee.elem_type = half ? DType.float16.onnxCode : type.dtype.onnxCode
        let shape = arena.allocate(Onnx__TensorShapeProto.self, count: 1)
        onnx__tensor_shape_proto__init(shape)
        let dims = (type.dims ?? []).map { d -> UnsafeMutablePointer<Onnx__TensorShapeProto__Dimension>? in
            let dp = arena.allocate(Onnx__TensorShapeProto__Dimension.self, count: 1)
            onnx__tensor_shape_proto__dimension__init(dp)
            switch d {
            case .value(let v):
                dp.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                dp.pointee.dim_value = Int64(v)
            case .symbol(let s):
                dp.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                dp.pointee.dim_param = arena.string(s)
            case .unknown: break
            }
            return dp
        }
        shape.pointee.n_dim = dims.count
        shape.pointee.dim = arena.array(dims)
        // An unknown rank has no shape field (an empty one would say scalar).
        tt.pointee.shape = type.dims == nil ? nil : shape
        tp.pointee.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
        tp.pointee.tensor_type = tt
        vi.pointee.type = tp
        return vi
    }
}

public let yoloCompileVersion = "0.1.0"
