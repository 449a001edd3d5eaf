/// Which input dimensions a dynamic export leaves symbolic.
public enum DynamicAxes: String, Sendable, CaseIterable {
    /// Batch, height and width (`--dynamic`), as YOLOv5's export.py --dynamic.
    case all
    /// Only the batch (`--dynamic batch`): what most TensorRT engines need, with no shape arithmetic.
    case batch
}

/// A model that cannot be exported with dynamic shapes, and why.
public struct DynamicShapesError: FileError, Equatable {
    public var file: String
    public var message: String
}

/// A graph whose input sizes are symbols, and the sizes it is exact for.
public struct DynamicModel: Sendable {
    public var graph: Graph
    /// Heights and widths the graph accepts are multiples of these (the largest stride, or a larger
    /// multiple a layer needs); with `--dynamic batch` they are the exported size itself.
    public var quantum: (height: Int, width: Int)
    public var notes: [String]
}

/// Makes a compiled (static) graph dynamic: symbolic batch, height and width on `images`.
///
/// The compiler builds the model at five probe points (the exported size, then the batch, the height
/// and the width each one step larger, then all three larger) with seeded weights, and requires the
/// same graph at each: same nodes, attributes and wiring. What differs are sizes. Every dimension of
/// every value is fitted as a `SizeMonomial` of (batch, h, w) and checked at the fifth point. The
/// constants that differ are rebuilt in the graph:
///
///     Reshape/Expand/Slice/... shape vectors  ->  Concat of constants and Shape(images) arithmetic
///                                                  (Reshape prefers 0 and one -1: no arithmetic for
///                                                  `--dynamic batch`)
///     cell grids and anchor points            ->  Range -> Cast -> Reshape, scaled and added (IndexGrid)
///
/// Anything else (a pad that depends on the size, an attribute that does) is refused, naming the node.
/// Finally the rewrite is applied to the seeded base graph, specialised back to every probe size and
/// compared with the static graph built there, node for node and constant for constant: the dynamic
/// graph is exact at those sizes or the export fails.
public enum DynamicShapes {
    public static func generalize(_ compiled: CompiledModel, options: CompileOptions, fuse: Bool, axes: DynamicAxes) throws -> DynamicModel {
        let g = compiled.optimized
        let flag = axes == .all ? "--dynamic" : "--dynamic batch"
        func fail(_ m: String) -> DynamicShapesError { DynamicShapesError(file: compiled.config.file, message: "\(flag): \(m)") }
        guard g.inputs.count == 1, let image = g.inputs.first, let shape = g.type(of: image).staticShape, shape.count == 4 else {
            throw fail("the model's input is not one (batch, channels, height, width) image")
        }
        let (b0, height0, width0) = (shape[0], shape[2], shape[3])

        // The size quantum: sizes the graph is the same at.
        var quantum = (height: height0, width: width0)
        if axes == .all {
            let stride = compiled.lowered.strides.max() ?? 32
            quantum = (stride, stride)
            for r in compiled.lowered.sizeRequirements {
                guard let m = r.multiple else {
                    throw fail("\(r.layer) (\(r.module)) \(r.problem), and the map's stride is not exact; export at a fixed size or with --dynamic batch")
                }
                quantum = (lcm(quantum.height, m.height), lcm(quantum.width, m.width))
            }
            guard height0 % quantum.height == 0, width0 % quantum.width == 0 else {
                let why = compiled.lowered.sizeRequirements.first { r in r.multiple.map { height0 % $0.height != 0 || width0 % $0.width != 0 } ?? false }
                    .map { " (\($0.layer) \($0.module) \($0.problem))" } ?? ""
                throw fail("the graph is the same at every size only for heights that are multiples of \(quantum.height) and widths that are multiples of \(quantum.width)\(why), and \(height0)x\(width0) is not; export at such a size (--imgsz \(max(quantum.height, height0 / quantum.height * quantum.height)) \(max(quantum.width, width0 / quantum.width * quantum.width))) or with --dynamic batch")
            }
        }
        let (h0, w0) = (height0 / quantum.height, width0 / quantum.width)
        let all = axes == .all
        let points = [ProbePoint(batch: b0, h: h0, w: w0), ProbePoint(batch: b0 + 1, h: h0, w: w0),
                      ProbePoint(batch: b0, h: all ? h0 + 1 : h0, w: w0), ProbePoint(batch: b0, h: h0, w: all ? w0 + 1 : w0),
                      ProbePoint(batch: b0 + 2, h: all ? h0 + 2 : h0, w: all ? w0 + 3 : w0)]
        func size(_ p: ProbePoint) -> String { "batch \(p.batch) at \(p.h * quantum.height)x\(p.w * quantum.width)" }

        // The graph at each probe, seeded (the same weights at every size).
        var built: [ProbePoint: Graph] = [:]
        for p in points where built[p] == nil {
            var o = options
            (o.batch, o.imageHeight, o.imageWidth) = (p.batch, p.h * quantum.height, p.w * quantum.width)
            var graph: Graph
            do { graph = try Compiler.compile(compiled.config, options: o, fuse: fuse).optimized } catch {
                throw fail("the model does not build at \(size(p)): \(error)")
            }
            // Weights equal to the base's share its storage, so the probes cost one model's memory.
            if let base = built[points[0]] {
                for (id, c) in graph.constants where c.kind == .parameter {
                    if let b = base.constants[id], b.tensor == c.tensor { graph.constants[id] = b }
                }
            }
            built[p] = graph
        }
        let graphs = points.compactMap { built[$0] }
        guard graphs.count == points.count, let base = graphs.first else { throw fail("a probe graph is missing") }
        for (p, other) in zip(points, graphs).dropFirst() {
            if let d = structuralDifference(base, other) {
                throw fail("the graph at \(size(p)) differs from the one at \(size(points[0])): \(d); a dynamic graph needs the same graph at every size")
            }
        }
        if let d = structuralDifference(base, g) { throw fail("the graph with these weights differs from the seeded one: \(d)") }

        // Every value's dimensions as monomials.
        let varying = (batch: true, height: all, width: all)
        var dims: [[SizeMonomial]?] = []
        for v in 0..<base.values.count {
            let id = ValueID(v)
            guard let shapes = graphs.map({ $0.type(of: id).staticShape }) as [[Int]?]?, shapes.allSatisfy({ $0 != nil }) else {
                dims.append(nil)
                continue
            }
            let ss = shapes.compactMap { $0 }
            var fitted: [SizeMonomial] = []
            for d in 0..<(ss.first?.count ?? 0) {
                guard let m = SizeMonomial.fit(ss.map { $0[d] }, at: points, varying: varying) else {
                    throw fail("dimension \(d) of \(base.name(of: id)) is \(ss.map { String($0[d]) }.joined(separator: ", ")) at \(points.map(size).joined(separator: "; ")): not a product of the batch and the image size")
                }
                fitted.append(m)
            }
            dims.append(fitted)
        }

        // The constants that differ between probes.
        var plan = RewritePlan(image: image, quantum: quantum, dims: dims)
        for id in base.constantOrder {
            guard let c0 = base.constants[id] else { continue }
            let tensors = graphs.compactMap { $0.constants[id]?.tensor }
            guard tensors.count == graphs.count else { throw fail("constant \(base.name(of: id)) is missing at a probe") }
            if tensors.allSatisfy({ $0 == c0.tensor }) { continue }
            let users = base.nodes.filter { $0.inputs.contains(id) }.map { "\($0.name) (\($0.op))" }.joined(separator: ", ")
            guard g.constants[id]?.tensor == c0.tensor else {
                throw fail("constant \(base.name(of: id)), read by \(users), depends on both the weights and the image size")
            }
            if c0.tensor.dtype == .int64, c0.tensor.shape.count <= 1 {
                var elements: [SizeMonomial] = []
                for i in 0..<c0.tensor.count {
                    guard let m = SizeMonomial.fit(tensors.map { Int($0.ints[i]) }, at: points, varying: varying) else {
                        throw fail("element \(i) of \(base.name(of: id)), read by \(users), is \(tensors.map { String($0.ints[i]) }.joined(separator: ", ")) at the probe sizes: not a product of the batch and the image size")
                    }
                    elements.append(m)
                }
                plan.vectors[id] = (elements, c0.tensor.shape.isEmpty)
            } else {
                guard let d = dims[id.raw] else { throw fail("constant \(base.name(of: id)) has no static shape") }
                do { plan.grids[id] = try IndexGrid.recognize(tensors, at: points, dims: d, strides: compiled.lowered.strides, quantum: quantum) } catch {
                    throw fail("constant \(base.name(of: id)), read by \(users), depends on the image size and cannot be computed in the graph: \(error.why)")
                }
            }
        }

        // Exact or refused: the rewrite of the seeded graph, specialised to each probe, is that probe's graph.
        let seeded = plan.apply(to: base)
        for (p, other) in zip(points, graphs).dropFirst() {
            var t = g.type(of: image)
            t.dims = [.value(p.batch), t.dims?[1] ?? .unknown, .value(p.h * quantum.height), .value(p.w * quantum.width)]
            let specialised: Graph
            do { specialised = try GraphInference.specialise(seeded, to: [t]) } catch {
                throw fail("the dynamic graph does not build at \(size(p)): \(error)")
            }
            if let d = GraphComparison.firstDifference(specialised, other, reshapeByResult: true) {
                throw fail("the dynamic graph at \(size(p)) is not the graph built at that size: \(d)")
            }
        }
        var notes: [String] = []
        if all {
            notes.append("dynamic batch, height and width: exact at heights that are multiples of \(quantum.height) and widths that are multiples of \(quantum.width)")
        }
        return DynamicModel(graph: plan.apply(to: g), quantum: quantum, notes: notes)
    }

    /// The first difference in structure between graphs built alike at two sizes: nodes, attributes,
    /// wiring, constants and ranks (sizes may differ).
    static func structuralDifference(_ a: Graph, _ b: Graph) -> String? {
        guard a.values.count == b.values.count else { return "\(a.values.count) values against \(b.values.count)" }
        guard a.nodes.count == b.nodes.count else { return "\(a.nodes.count) nodes against \(b.nodes.count)" }
        guard a.inputs == b.inputs, a.outputs == b.outputs else { return "other graph inputs or outputs" }
        guard Set(a.constants.keys) == Set(b.constants.keys) else { return "other constants" }
        for (x, y) in zip(a.nodes, b.nodes) {
            guard x.op == y.op, x.name == y.name else { return "node \(x.name) (\(x.op)) is \(y.name) (\(y.op))" }
            guard x.attributes == y.attributes else { return "node \(x.name) (\(x.op)) has other attributes (\(x.attributes.keys.sorted().filter { x.attributes[$0] != y.attributes[$0] }.joined(separator: ", ")))" }
            guard x.inputs == y.inputs, x.outputs == y.outputs else { return "node \(x.name) (\(x.op)) is wired otherwise" }
        }
        for v in 0..<a.values.count where a.values[v].type.rank != b.values[v].type.rank {
            return "\(a.values[v].name) has rank \(a.values[v].type.rank) against \(b.values[v].type.rank)"
        }
        return nil
    }

    /// How a size shows in a type: its value when constant, else a symbol naming the monomial.
    static func dim(_ m: SizeMonomial) -> Dim {
        m.isConstant ? .value(m.numerator / m.denominator) : .symbol(m == SizeMonomial(numerator: 1, denominator: 1, batch: 1, height: 0, width: 0) ? "batch" : m.description)
    }
}

/// What the rewrite does to a graph built at the base probe (the user's or the seeded weights).
struct RewritePlan {
    let image: ValueID
    let quantum: (height: Int, width: Int)
    /// Each value's dimensions (nil for a value with no static shape).
    let dims: [[SizeMonomial]?]
    /// Integer constants rebuilt from sizes, and whether each is a scalar.
    var vectors: [ValueID: (elements: [SizeMonomial], scalar: Bool)] = [:]
    var grids: [ValueID: IndexGrid] = [:]

    init(image: ValueID, quantum: (height: Int, width: Int), dims: [[SizeMonomial]?]) {
        self.image = image
        self.quantum = quantum
        self.dims = dims
    }

    func apply(to g: Graph) -> Graph {
        var s = ShapeArithmetic(g, image: image, quantum: quantum)
        var computed: [ValueID: ValueID] = [:]
        for id in g.constantOrder {
            if let grid = grids[id] {
                computed[id] = grid.emit(&s)
            }
        }
        for i in s.graph.nodes.indices {
            let n = s.graph.nodes[i]
            for (k, input) in n.inputs.enumerated() {
                guard let id = input, let plan = vectors[id] else { continue }
                if n.op == "Reshape", k == 1, n.attributes["allowzero"] != .int(1), let x = n.inputs[0], let xd = dims[x.raw] {
                    s.graph.nodes[i].inputs[k] = s.vector(plan.elements, special: reshapeShortcuts(plan.elements, input: xd))
                    continue
                }
                if computed[id] == nil {
                    let v = s.vector(plan.elements)
                    computed[id] = plan.scalar ? s.node("Reshape", [v, s.constant(Tensor(shape: [0], ints: []))], [TensorType(.int64, [])])[0] : v
                }
            }
        }
        s.graph.replaceUses(computed)
        for id in vectors.keys { s.graph.removeConstant(id) }
        for id in grids.keys { s.graph.removeConstant(id) }
        var out = s.graph
        out.nodes = s.prelude + out.nodes
        // Types: symbols for what varies; the interface's named as YOLOv5's export names them.
        for v in dims.indices {
            guard let d = dims[v], !d.allSatisfy(\.isConstant) else { continue }
            out.setType(ValueID(v), TensorType(out.type(of: ValueID(v)).dtype, dims: d.map(DynamicShapes.dim)))
        }
        if let d = dims[image.raw] {
            let names = ["batch", nil, "height", "width"]
            out.setType(image, TensorType(out.type(of: image).dtype, dims: d.enumerated().map { i, m in
                m.isConstant ? .value(m.numerator / m.denominator) : .symbol(names[i] ?? "dim\(i)")
            }))
        }
        for o in out.outputs {
            guard let d = dims[o.raw] else { continue }
            let name = out.name(of: o)
            out.setType(o, TensorType(out.type(of: o).dtype, dims: d.enumerated().map { i, m in
                if m.isConstant { return .value(m.numerator / m.denominator) }
                if m == SizeMonomial(numerator: 1, denominator: 1, batch: 1, height: 0, width: 0) { return .symbol("batch") }
                if d.count == 3 { return .symbol("anchors") }
                if d.count == 4, i >= 2 { return .symbol(name + (i == 2 ? "_height" : "_width")) }
                return .symbol("\(name)_dim\(i)")
            }))
        }
        return out
    }

    /// Reshape's own shortcuts: 0 copies the input's dimension at the same index, and one -1 is
    /// inferred; only what neither covers needs arithmetic.
    func reshapeShortcuts(_ elements: [SizeMonomial], input: [SizeMonomial]) -> [Int: Int] {
        var special: [Int: Int] = [:]
        for (i, m) in elements.enumerated() where !m.isConstant && i < input.count && input[i] == m { special[i] = 0 }
        let rest = elements.indices.filter { !elements[$0].isConstant && special[$0] == nil }
        if rest.count == 1, elements.allSatisfy({ !$0.isConstant || $0.numerator != 0 }) { special[rest[0]] = -1 }
        return special
    }
}
