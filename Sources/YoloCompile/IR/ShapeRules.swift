/// Shape arithmetic shared by operator rules, kernels and the front ends: broadcasting, Reshape's
/// target, Slice's clamping, Unsqueeze's axes, element counts. (Each operator's own rule lives with its
/// declaration under Operators/.)
public enum ShapeRules {
    /// Largest tensor the compiler handles (2^31 - 1 elements): larger ones come from corrupt files.
    public static let maxElements = ShapeInference.maxElements

    /// The number of elements of a shape, or nil when it overflows or exceeds `maxElements`.
    public static func elementCount(_ shape: [Int]) -> Int? { ShapeInference.elementCount(shape) }

    /// numpy broadcasting of two shapes.
    public static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let n = max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let x = i < n - a.count ? 1 : a[i - (n - a.count)]
            let y = i < n - b.count ? 1 : b[i - (n - b.count)]
            if x == y || y == 1 { out[i] = x } else if x == 1 { out[i] = y } else { return nil }
        }
        return out
    }

    /// Resolved start, step and count per axis, as ONNX Slice defines the clamping; nil for invalid
    /// arguments (mismatched lengths, an axis out of range or repeated, a zero step).
    public static func sliceParameters(shape: [Int], starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?)
        -> (start: [Int], step: [Int], count: [Int])?
    {
        var start = [Int](repeating: 0, count: shape.count)
        var step = [Int](repeating: 1, count: shape.count)
        var count = shape
        let ax = axes ?? Array(0..<starts.count)
        guard starts.count == ends.count, ax.count == starts.count, steps.map({ $0.count == starts.count }) ?? true else { return nil }
        var seen = Set<Int>()
        for (j, a0) in ax.enumerated() {
            let a = a0 < 0 ? a0 + shape.count : a0
            guard a >= 0 && a < shape.count, seen.insert(a).inserted else { return nil }
            let dim = shape[a]
            let st = steps?[j] ?? 1
            guard st != 0 else { return nil }
            var s = max(starts[j], -dim - 1), e = max(ends[j], -dim - 1)
            if s < 0 { s += dim }
            if e < 0 { e += dim }
            // Clamp first, then count without forming sums that could overflow on hostile values.
            if st > 0 {
                s = min(max(s, 0), dim)
                e = min(max(e, 0), dim)
                count[a] = e > s ? (e - s - 1) / st + 1 : 0
            } else {
                guard st != Int.min else { return nil }
                s = min(max(s, 0), dim - 1)
                e = min(max(e, -1), dim - 1)
                count[a] = s > e ? (s - e - 1) / (-st) + 1 : 0
            }
            start[a] = s
            step[a] = st
        }
        return (start, step, count)
    }

    /// ONNX Reshape's target shape: 0 copies the input dimension (unless allowzero), -1 is inferred.
    public static func reshapeTarget(_ input: [Int], _ spec: [Int], allowZero: Bool) -> [Int]? {
        var out = spec
        var inferred: Int? = nil
        for (i, d) in spec.enumerated() {
            if d == 0 && !allowZero {
                guard i < input.count else { return nil }
                out[i] = input[i]
            } else if d == -1 {
                guard inferred == nil else { return nil }
                inferred = i
            } else if d < 0 { return nil }
        }
        guard let total = elementCount(input) else { return nil }
        if let i = inferred {
            guard let known = elementCount(out.enumerated().filter { $0.offset != i }.map(\.element)),
                  known > 0, total % known == 0 else { return nil }
            out[i] = total / known
        }
        return elementCount(out) == total ? out : nil
    }

    public static func unsqueezeShape(_ shape: [Int], axes: [Int]) -> [Int]? {
        let rank = shape.count + axes.count
        let norm = axes.map { $0 < 0 ? $0 + rank : $0 }
        guard Set(norm).count == norm.count, norm.allSatisfy({ $0 >= 0 && $0 < rank }) else { return nil }
        var out: [Int] = []
        var it = shape.makeIterator()
        for i in 0..<rank {
            if norm.contains(i) { out.append(1) } else if let d = it.next() { out.append(d) }
        }
        return out
    }
}

extension DType {
    /// ONNX TensorProto.DataType codes.
    public init?(onnxCode: Int) {
        switch onnxCode {
        case 1: self = .float32
        case 2: self = .uint8
        case 3: self = .int8
        case 4: self = .uint16
        case 5: self = .int16
        case 6: self = .int32
        case 7: self = .int64
        case 9: self = .bool
        case 10: self = .float16
        case 11: self = .float64
        case 12: self = .uint32
        case 13: self = .uint64
        default: return nil
        }
    }

    public var onnxCode: Int32 {
        switch self {
        case .float32: return 1
        case .uint8: return 2
        case .int8: return 3
        case .uint16: return 4
        case .int16: return 5
        case .int32: return 6
        case .int64: return 7
        case .bool: return 9
        case .float16: return 10
        case .float64: return 11
        case .uint32: return 12
        case .uint64: return 13
        }
    }
}
