/// A named graph-to-graph rewrite. `run` returns one line per change it made, for the pass manager's
/// report; an empty list means the graph is unchanged. No pass may change numerics beyond float rounding.
public struct Pass: Sendable {
    public let name: String
    public let run: @Sendable (inout Graph) throws -> [String]

    public init(name: String, run: @escaping @Sendable (inout Graph) throws -> [String]) {
        self.name = name
        self.run = run
    }
}

extension Pass {
    /// Every pass, by name, for tools and tests that name passes in text.
    public static var all: [Pass] {
        [.splitBatchNormOverConcat, .fuseConvBatchNorm, .replaceBatchNorm, .constantFolding, .identityElimination, .deadCodeElimination,
         .nearestResizeToExpand, .sliceAsSelection, .padAsConcat, .hardSwishAsHardSigmoid, .copyAfterTranspose, .limitTransposeRank4,
         .stridedSliceAsReshape, .constantsAtFullRank]
    }

    public static func named(_ name: String) -> Pass? { all.first { $0.name == name } }
}

/// What one pass did.
public struct PassReport: Sendable {
    public var pass: String
    public var changes: [String]
    public var nodesBefore: Int
    public var nodesAfter: Int
}

/// Runs passes in order, verifying the graph after each, and reports what each changed.
public struct PassManager: Sendable {
    public var passes: [Pass]
    public var verify: Bool

    public init(_ passes: [Pass], verify: Bool = true) {
        self.passes = passes
        self.verify = verify
    }

    /// Conv+BN fusion and the clean-ups: what `export` runs by default.
    public static let standard = PassManager([
        .splitBatchNormOverConcat, .fuseConvBatchNorm, .replaceBatchNorm, .constantFolding, .identityElimination,
        .deadCodeElimination,
    ])

    /// Clean-ups only; BatchNormalization stays (`export --no-fuse`).
    public static let cleanupOnly = PassManager([.constantFolding, .identityElimination, .deadCodeElimination])

    @discardableResult
    public func run(_ g: inout Graph) throws -> [PassReport] {
        var reports: [PassReport] = []
        for p in passes {
            let before = g.nodes.count
            let changes = try p.run(&g)
            if verify { try Verifier.verify(g) }
            reports.append(PassReport(pass: p.name, changes: changes, nodesBefore: before, nodesAfter: g.nodes.count))
        }
        return reports
    }
}

extension Graph {
    /// Removes the nodes at `indices`, keeping the order of the rest.
    mutating func removeNodes(_ indices: Set<Int>) {
        guard !indices.isEmpty else { return }
        nodes = nodes.enumerated().filter { !indices.contains($0.offset) }.map(\.element)
    }

    /// Whether a value is read by anything but node `except`, or is a graph output.
    func hasOtherUses(_ v: ValueID, except: Int, users: [ValueID: [Int]]) -> Bool {
        outputs.contains(v) || (users[v] ?? []).contains { $0 != except }
    }
}

/// The per-channel factor and offset of an inference BatchNorm: y = x * k + s. Computed in Double.
func batchNormAffine(scale: [Float], bias: [Float], mean: [Float], variance: [Float], eps: Float) -> (k: [Double], s: [Double]) {
    var k = [Double](), s = [Double]()
    for c in scale.indices {
        let kc = Double(scale[c]) / (Double(variance[c]) + Double(eps)).squareRoot()
        k.append(kc)
        s.append(Double(bias[c]) - Double(mean[c]) * kc)
    }
    return (k, s)
}
