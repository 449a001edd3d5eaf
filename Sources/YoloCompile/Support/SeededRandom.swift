/// SplitMix64: small, fast, and the same on every platform, so `--seed` gives the same model anywhere.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform Float in [0, 1) from the top 24 bits.
    public mutating func nextUnitFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }
}

/// FNV-1a, to derive a per-tensor stream from its name: values don't depend on build order.
public func fnv1a(_ s: String) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
    return h
}

/// Zeros of the right shapes: for shape-only lowerings such as the stride probe.
public final class ZeroParameters: ParameterSource {
    public init() {}
    public func tensor(named name: String, shape: [Int], kind: ConstantKind, initializer: ParameterInit) throws -> Tensor {
        if case .value(let t) = initializer { return t }
        return .zeros(shape)
    }
}

/// Deterministic parameters from a seed: each tensor's values depend only on the seed and its name.
public final class SeededParameters: ParameterSource {
    public let seed: UInt64
    public init(seed: UInt64) { self.seed = seed }

    public func tensor(named name: String, shape: [Int], kind: ConstantKind, initializer: ParameterInit) throws -> Tensor {
        var rng = SplitMix64(seed: seed ^ fnv1a(name))
        let n = shape.reduce(1, *)
        switch initializer {
        case .uniform(let b):
            return Tensor(shape: shape, floats: (0..<n).map { _ in (rng.nextUnitFloat() * 2 - 1) * b })
        case .range(let lo, let hi):
            return Tensor(shape: shape, floats: (0..<n).map { _ in lo + rng.nextUnitFloat() * (hi - lo) })
        case .value(let t):
            return t
        }
    }
}
