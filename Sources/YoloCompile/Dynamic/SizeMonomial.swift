/// One point at which the compiler builds a model to learn how its sizes depend on the input: a batch
/// and an image size in whole size quanta (`height = h * quantum.height`).
public struct ProbePoint: Sendable, Hashable, CustomStringConvertible {
    public var batch: Int
    public var h: Int
    public var w: Int

    public init(batch: Int, h: Int, w: Int) {
        self.batch = batch
        self.h = h
        self.w = w
    }

    public var description: String { "batch \(batch), \(h)x\(w) quanta" }
}

/// A size as a dynamic graph computes it from its input: `(numerator / denominator) * batch^a * h^b *
/// w^c`, where h and w are the image height and width in size quanta (the largest stride, or a larger
/// multiple a layer needs). Every dimension of a YOLO graph built at one image size is such a product:
/// feature maps are h * (quantum / stride), anchors are a sum of such terms with one exponent, windows
/// multiply batch by the window count. A size that fits no monomial (a pad to whole windows) is not
/// generalised: the export is refused.
public struct SizeMonomial: Sendable, Hashable, CustomStringConvertible {
    public var numerator: Int
    public var denominator: Int
    public var batch: Int
    public var height: Int
    public var width: Int

    public static func constant(_ v: Int) -> SizeMonomial { SizeMonomial(numerator: v, denominator: 1, batch: 0, height: 0, width: 0) }

    public var isConstant: Bool { batch == 0 && height == 0 && width == 0 }

    /// The size at a probe, or nil when it is not a whole number (or overflows).
    public func value(at p: ProbePoint) -> Int? {
        var v = numerator
        for (base, exponent) in [(p.batch, batch), (p.h, height), (p.w, width)] {
            for _ in 0..<exponent {
                let (m, o) = v.multipliedReportingOverflow(by: base)
                if o { return nil }
                v = m
            }
        }
        return v % denominator == 0 ? v / denominator : nil
    }

    /// The monomial taking `values[i]` at `points[i]`. `points[0]` is the base; `points[1...3]` change
    /// only the batch, only h, only w (a probe may be absent when that axis stays fixed); the rest
    /// validate the fit. Exponents are tried up to 3 (no YOLO size grows faster than h * w).
    public static func fit(_ values: [Int], at points: [ProbePoint], varying: (batch: Bool, height: Bool, width: Bool)) -> SizeMonomial? {
        guard values.count == points.count, let v0 = values.first else { return nil }
        if values.allSatisfy({ $0 == v0 }) { return .constant(v0) }
        guard v0 > 0 else { return nil }
        let p0 = points[0]
        /// The exponent e with v = v0 * (x / x0)^e, from the probe at `index` that changes only that axis.
        func exponent(_ index: Int, _ enabled: Bool, _ axis: (ProbePoint) -> Int) -> Int? {
            guard enabled else { return 0 }
            let (x0, x1, v1) = (axis(p0), axis(points[index]), values[index])
            var lhs = v0, rhs = v1
            for e in 0...3 {
                if lhs == rhs { return e }
                // v1 * x0^e == v0 * x1^e
                let (l, o1) = lhs.multipliedReportingOverflow(by: x1)
                let (r, o2) = rhs.multipliedReportingOverflow(by: x0)
                if o1 || o2 { return nil }
                (lhs, rhs) = (l, r)
            }
            return nil
        }
        guard points.count >= 4, let a = exponent(1, varying.batch, \.batch), let b = exponent(2, varying.height, \.h),
              let c = exponent(3, varying.width, \.w) else { return nil }
        var denominator = 1
        for (base, e) in [(p0.batch, a), (p0.h, b), (p0.w, c)] {
            for _ in 0..<e {
                let (m, o) = denominator.multipliedReportingOverflow(by: base)
                if o { return nil }
                denominator = m
            }
        }
        let g = gcd(v0, denominator)
        let m = SizeMonomial(numerator: v0 / g, denominator: denominator / g, batch: a, height: b, width: c)
        for (v, p) in zip(values, points) where m.value(at: p) != v { return nil }
        return m
    }

    /// How a dump shows it: `batch*h*w*21`, `h*4`, `80`.
    public var description: String {
        var factors: [String] = []
        for (name, e) in [("batch", batch), ("h", height), ("w", width)] where e > 0 {
            factors += Array(repeating: name, count: e)
        }
        if numerator != 1 || factors.isEmpty { factors.append(String(numerator)) }
        return factors.joined(separator: "*") + (denominator == 1 ? "" : "/\(denominator)")
    }
}
