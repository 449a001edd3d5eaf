/// Builds the in-graph arithmetic that computes sizes from the input's shape: `batch`, `h` and `w`
/// (the image height and width in size quanta) from Shape(images), and from them any `SizeMonomial`
/// as a 1-element int64 vector. Nodes go into `prelude`, which the rewrite places before the graph's
/// own nodes (they read only the graph input and constants); each size is built once.
struct ShapeArithmetic {
    var graph: Graph
    private(set) var prelude: [Node] = []
    private var names: NameAllocator
    private var nodeNames: NameAllocator
    private let image: ValueID
    private let quantum: (height: Int, width: Int)
    private var built: [SizeMonomial: ValueID] = [:]
    private var shapeOfImage: ValueID?
    private var axes: [Int: ValueID] = [:]

    init(_ g: Graph, image: ValueID, quantum: (height: Int, width: Int)) {
        graph = g
        names = NameAllocator(g)
        nodeNames = NameAllocator(names: g.nodes.map(\.name))
        self.image = image
        self.quantum = quantum
    }

    /// Appends a node to the prelude; its outputs get the given types.
    mutating func node(_ op: String, _ inputs: [ValueID?], _ types: [TensorType], _ attributes: [String: Attribute] = [:]) -> [ValueID] {
        let name = nodeNames.unique("/dynamic/\(op)")
        let outs = types.enumerated().map { k, t in graph.addValue(name: names.unique("\(name)_output_\(k)"), type: t) }
        prelude.append(Node(op: op, name: name, inputs: inputs, outputs: outs, attributes: attributes))
        return outs
    }

    mutating func constant(_ t: Tensor, _ base: String = "/dynamic/Constant") -> ValueID {
        graph.addConstant(name: names.unique(base), tensor: t, kind: .constant)
    }

    static let sizeType = TensorType(.int64, [1])

    /// The image's dimension `axis` (0 batch, 2 height, 3 width), as a 1-element vector.
    private mutating func imageDimension(_ axis: Int) -> ValueID {
        if let v = axes[axis] { return v }
        let shape: ValueID
        if let s = shapeOfImage { shape = s } else {
            shape = node("Shape", [image], [TensorType(.int64, [graph.type(of: image).rank])])[0]
            shapeOfImage = shape
        }
        let v = node("Gather", [shape, constant(.vector([axis]))], [Self.sizeType], ["axis": .int(0)])[0]
        axes[axis] = v
        return v
    }

    /// batch, h or w as a 1-element vector (h = height / quantum, exact at the sizes the graph accepts).
    private mutating func base(_ k: Int) -> ValueID {
        let key = SizeMonomial(numerator: 1, denominator: 1, batch: k == 0 ? 1 : 0, height: k == 1 ? 1 : 0, width: k == 2 ? 1 : 0)
        if let v = built[key] { return v }
        var v: ValueID
        switch k {
        case 0: v = imageDimension(0)
        case 1: v = imageDimension(2)
            if quantum.height != 1 { v = node("Div", [v, constant(.vector([quantum.height]))], [Self.sizeType])[0] }
        default: v = imageDimension(3)
            if quantum.width != 1 { v = node("Div", [v, constant(.vector([quantum.width]))], [Self.sizeType])[0] }
        }
        built[key] = v
        return v
    }

    /// The monomial's value, a 1-element int64 vector: factors multiplied, then the numerator, then the
    /// (exact) division by the denominator.
    mutating func size(_ m: SizeMonomial) -> ValueID {
        if let v = built[m] { return v }
        if m.isConstant {
            let v = constant(.vector([m.numerator / m.denominator]))
            built[m] = v
            return v
        }
        var v: ValueID? = nil
        for (k, e) in [(0, m.batch), (1, m.height), (2, m.width)] {
            for _ in 0..<e {
                let f = base(k)
                v = v.map { node("Mul", [$0, f], [Self.sizeType])[0] } ?? f
            }
        }
        var out = v ?? constant(.vector([1]))  // v is set: some exponent is positive
        if m.numerator != 1 { out = node("Mul", [out, constant(.vector([m.numerator]))], [Self.sizeType])[0] }
        if m.denominator != 1 { out = node("Div", [out, constant(.vector([m.denominator]))], [Self.sizeType])[0] }
        built[m] = out
        return out
    }

    /// The monomial as a 0-D int64 scalar (Range's operands).
    mutating func scalar(_ m: SizeMonomial) -> ValueID {
        node("Reshape", [size(m), constant(Tensor(shape: [0], ints: []))], [TensorType(.int64, [])])[0]
    }

    /// A 1-D int64 vector whose elements are these monomials: constants stay one constant, and the
    /// pieces are concatenated. `special` overrides elements (Reshape's 0 and -1).
    mutating func vector(_ elements: [SizeMonomial], special: [Int: Int] = [:]) -> ValueID {
        var pieces: [ValueID] = []
        var run: [Int] = []
        func flush(_ s: inout ShapeArithmetic) {
            if !run.isEmpty { pieces.append(s.constant(.vector(run))); run = [] }
        }
        for (i, m) in elements.enumerated() {
            if let v = special[i] { run.append(v); continue }
            if m.isConstant { run.append(m.numerator / m.denominator); continue }
            flush(&self)
            pieces.append(size(m))
        }
        flush(&self)
        if pieces.count == 1 { return pieces[0] }
        return node("Concat", pieces, [TensorType(.int64, [elements.count])], ["axis": .int(0)])[0]
    }
}
