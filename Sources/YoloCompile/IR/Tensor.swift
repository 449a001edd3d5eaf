/// Element types the IR carries. Float16 data is widened to float32 when it enters the IR;
/// the interpreter computes in float32.
public enum DType: String, Sendable, Hashable, CaseIterable {
    case float32 = "f32"
    case float16 = "f16"
    case int64 = "i64"
    case int32 = "i32"
    case bool = "bool"

    public var isFloat: Bool { self == .float32 || self == .float16 }
    public var byteSize: Int {
        switch self {
        case .float32, .int32: return 4
        case .float16: return 2
        case .int64: return 8
        case .bool: return 1
        }
    }
}

/// A static tensor type: element type and every dimension known.
public struct TensorType: Sendable, Hashable, CustomStringConvertible {
    public var dtype: DType
    public var shape: [Int]

    public init(_ dtype: DType, _ shape: [Int]) {
        self.dtype = dtype
        self.shape = shape
    }

    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }
    public var description: String { "\(dtype.rawValue)[\(shape.map(String.init).joined(separator: ","))]" }
}

/// Constant or runtime tensor data. Float tensors hold `floats`, integer and boolean ones `ints`;
/// the other array stays empty. Arrays are copy-on-write, so passing tensors around is cheap.
public struct Tensor: Sendable, Equatable {
    public var dtype: DType
    public var shape: [Int]
    public var floats: [Float]
    public var ints: [Int64]

    public init(shape: [Int], floats: [Float]) {
        precondition(shape.reduce(1, *) == floats.count, "tensor shape \(shape) does not hold \(floats.count) floats")
        self.dtype = .float32
        self.shape = shape
        self.floats = floats
        self.ints = []
    }

    public init(shape: [Int], ints: [Int64], dtype: DType = .int64) {
        precondition(shape.reduce(1, *) == ints.count, "tensor shape \(shape) does not hold \(ints.count) ints")
        self.dtype = dtype
        self.shape = shape
        self.floats = []
        self.ints = ints
    }

    public static func scalar(_ v: Float) -> Tensor { Tensor(shape: [], floats: [v]) }
    public static func vector(_ v: [Int]) -> Tensor { Tensor(shape: [v.count], ints: v.map(Int64.init)) }
    public static func vector(_ v: [Float]) -> Tensor { Tensor(shape: [v.count], floats: v) }
    public static func zeros(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, floats: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public var type: TensorType { TensorType(dtype, shape) }
    public var count: Int { shape.reduce(1, *) }
    public var isFloat: Bool { dtype.isFloat }

    /// Integer view of the data (floats truncated, non-finite or out-of-range ones clamped), for shape-like inputs.
    public var intValues: [Int] {
        isFloat ? floats.map { $0.isNaN ? 0 : Int(max(min($0, 1e18), -1e18)) } : ints.map { Int($0) }
    }
    /// Float view of the data, for mixed arithmetic.
    public var floatValues: [Float] { isFloat ? floats : ints.map { Float($0) } }

    public func reshaped(_ newShape: [Int]) -> Tensor {
        var t = self
        t.shape = newShape
        return t
    }
}

/// Row-major strides of a shape.
@inline(__always)
public func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[i] = s
        s *= shape[i]
    }
    return strides
}
