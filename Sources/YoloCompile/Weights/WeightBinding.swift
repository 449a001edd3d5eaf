/// Binds a `WeightStore` to the model as it is lowered: each parameter the lowering asks for is taken
/// from the file by state_dict name and checked for shape. Problems are collected, not thrown one by
/// one, so `check()` reports every missing, unexpected and mismatched tensor at once.
public final class BoundParameters: ParameterSource {
    public let store: WeightStore
    /// When true, missing tensors fall back to seeded values and unexpected ones are ignored.
    public let partial: Bool
    private let fallback: SeededParameters
    public private(set) var bound = Set<String>()
    public private(set) var missing: [String] = []
    public private(set) var mismatched: [String] = []
    private var mismatchedNames = Set<String>()
    /// Tensors of the file that belong to modules the model builds but never runs (shape-checked).
    public private(set) var unusedByModel: [String] = []
    /// Tensors of such modules that the file lacks: not needed for the export, so not an error.
    public private(set) var absentUnused: [String] = []

    /// When false (the default), a tensor holding NaN or an infinity is refused, naming it.
    public let allowNonFinite: Bool

    public init(store: WeightStore, partial: Bool = false, seed: UInt64 = 0, allowNonFinite: Bool = false) {
        self.store = store
        self.partial = partial
        self.fallback = SeededParameters(seed: seed)
        self.allowNonFinite = allowNonFinite
    }

    /// Tensors a state_dict holds that never enter an inference graph.
    static func isIgnorable(_ name: String) -> Bool { name.hasSuffix(".num_batches_tracked") }

    public func tensor(named name: String, shape: [Int], kind: ConstantKind, initializer: ParameterInit) throws -> Tensor {
        guard let e = store[name] else {
            if !missing.contains(name) { missing.append(name) }
            return try fallback.tensor(named: name, shape: shape, kind: kind, initializer: initializer)
        }
        guard e.shape == shape else {
            let m = "\(name) is \(e.shape) in the file, the model needs \(shape)"
            if mismatchedNames.insert(name).inserted { mismatched.append(m) }
            return try fallback.tensor(named: name, shape: shape, kind: kind, initializer: initializer)
        }
        bound.insert(name)
        let t = try e.load()
        guard t.isFloat else {
            throw WeightsError(file: store.file, "tensor \(name) is \(e.dtype), expected a floating-point tensor")
        }
        if !allowNonFinite, let i = t.floats.firstIndex(where: { !$0.isFinite }) {
            throw WeightsError(file: store.file, "tensor \(name) holds \(t.floats[i]) at element \(i) (a corrupt or diverged checkpoint?); pass --allow-nonfinite-weights to export it anyway")
        }
        return t
    }

    public func batchNormEpsilon(module path: String) -> Float? { store.batchNormEpsilon[path] }

    /// A derived buffer in the file must equal what the architecture gives; then it counts as used.
    public func derived(named name: String, tensor: Tensor) throws {
        guard let e = store[name] else { return }
        let t = try e.load()
        guard t.shape == tensor.shape, t.intValues == tensor.intValues else {
            let m = "\(name) in the file differs from the \(tensor.shape) table the architecture derives"
            if mismatchedNames.insert(name).inserted { mismatched.append(m) }
            return
        }
        bound.insert(name)
    }

    /// A parameter the model holds but never runs: the file's copy must have its shape, then is set aside.
    public func unused(named name: String, shape: [Int]) throws {
        guard let e = store[name] else {
            if !absentUnused.contains(name) { absentUnused.append(name) }
            return
        }
        guard e.shape == shape else {
            let m = "\(name) is \(e.shape) in the file, the model needs \(shape)"
            if mismatchedNames.insert(name).inserted { mismatched.append(m) }
            return
        }
        if bound.insert(name).inserted { unusedByModel.append(name) }
    }

    public var unexpected: [String] {
        store.names.filter { !bound.contains($0) && !mismatchedNames.contains($0) && !Self.isIgnorable($0) }
    }

    /// Throws one error listing every problem, unless `partial` allows missing and unexpected tensors
    /// (a shape mismatch is always an error). Returns notes on what `partial` let through.
    public func check() throws -> [String] {
        func list(_ items: [String]) -> String {
            items.count <= 4 ? items.joined(separator: ", ") : items.prefix(4).joined(separator: ", ") + ", ... (\(items.count - 4) more)"
        }
        var problems: [String] = []
        if !mismatched.isEmpty { problems.append("\(mismatched.count) with the wrong shape (\(list(mismatched)))") }
        if !partial {
            if !missing.isEmpty { problems.append("\(missing.count) missing (\(list(missing)))") }
            if !unexpected.isEmpty { problems.append("\(unexpected.count) unexpected (\(list(unexpected)))") }
        }
        if !problems.isEmpty {
            throw WeightsError(file: store.file, "weights do not fit the model: " + problems.joined(separator: "; ")
                + (partial || !mismatched.isEmpty ? "" : "; use --partial-weights to seed missing tensors and skip unexpected ones"))
        }
        var notes: [String] = []
        if !unusedByModel.isEmpty {
            notes.append("\(unusedByModel.count) tensors in \(store.file) belong to modules the model builds but never runs, so they are not exported: \(list(unusedByModel))")
        }
        if !absentUnused.isEmpty {
            notes.append("\(absentUnused.count) tensors of modules the model builds but never runs are not in \(store.file); the export does not need them: \(list(absentUnused))")
        }
        if !missing.isEmpty { notes.append("\(missing.count) tensors missing from \(store.file), seeded instead: \(list(missing))") }
        if !unexpected.isEmpty { notes.append("\(unexpected.count) tensors in \(store.file) unused: \(list(unexpected))") }
        return notes
    }
}
