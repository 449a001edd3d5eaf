/// Element types the IR carries: ONNX's numeric and boolean tensor types. Float16 values are held as
/// float32 numbers that are exactly representable in float16 (every float16 result is rounded once, as
/// numpy and onnxruntime round each float16 operation); float64 is held and computed as Double.
public enum DType: String, Sendable, Hashable, CaseIterable {
    case float32 = "f32"
    case float16 = "f16"
    case float64 = "f64"
    case int8 = "i8"
    case int16 = "i16"
    case int32 = "i32"
    case int64 = "i64"
    case uint8 = "u8"
    case uint16 = "u16"
    case uint32 = "u32"
    case uint64 = "u64"
    case bool = "bool"

    public var isFloat: Bool { self == .float32 || self == .float16 || self == .float64 }
    public var isInteger: Bool { !isFloat && self != .bool }
    public var isSigned: Bool { isFloat || [.int8, .int16, .int32, .int64].contains(self) }

    public var byteSize: Int {
        switch self {
        case .int8, .uint8, .bool: return 1
        case .float16, .int16, .uint16: return 2
        case .float32, .int32, .uint32: return 4
        case .float64, .int64, .uint64: return 8
        }
    }

    /// How the data is held: `floats`, `doubles` or `ints` (every integer type and bool; uint64 as its
    /// bit pattern).
    public var storage: TensorStorageKind {
        switch self {
        case .float32, .float16: return .floats
        case .float64: return .doubles
        default: return .ints
        }
    }

    /// The ONNX spelling (TensorProto.DataType name), for messages.
    public var onnxName: String {
        switch self {
        case .float32: return "float"
        case .float16: return "float16"
        case .float64: return "double"
        case .int8: return "int8"
        case .int16: return "int16"
        case .int32: return "int32"
        case .int64: return "int64"
        case .uint8: return "uint8"
        case .uint16: return "uint16"
        case .uint32: return "uint32"
        case .uint64: return "uint64"
        case .bool: return "bool"
        }
    }

    /// `v` wrapped to this integer type's width (two's complement), as a stored Int64.
    @inline(__always)
    public func wrap(_ v: Int64) -> Int64 {
        switch self {
        case .int8: return Int64(Int8(truncatingIfNeeded: v))
        case .int16: return Int64(Int16(truncatingIfNeeded: v))
        case .int32: return Int64(Int32(truncatingIfNeeded: v))
        case .uint8: return Int64(UInt8(truncatingIfNeeded: v))
        case .uint16: return Int64(UInt16(truncatingIfNeeded: v))
        case .uint32: return Int64(UInt32(truncatingIfNeeded: v))
        case .bool: return v != 0 ? 1 : 0
        default: return v
        }
    }
}

public enum TensorStorageKind: Sendable { case floats, doubles, ints }

/// One dimension of a tensor type: a size, a named symbol (an ONNX `dim_param`, such as `batch`), or
/// a size not known until the model runs.
public enum Dim: Sendable, Hashable, CustomStringConvertible {
    case value(Int)
    case symbol(String)
    case unknown

    public var value: Int? { if case .value(let v) = self { return v } else { return nil } }
    public var description: String {
        switch self {
        case .value(let v): return String(v)
        case .symbol(let s): return s
        case .unknown: return "?"
        }
    }
}

/// A tensor type: element type and dimensions. Graphs the compiler builds are static (every
/// dimension a size); graphs read from files may carry symbols, unknown sizes, or an unknown rank
/// until they are specialised to concrete inputs.
public struct TensorType: Sendable, Hashable, CustomStringConvertible {
    public var dtype: DType
    /// nil when even the rank is unknown.
    public var dims: [Dim]?

    public init(_ dtype: DType, _ shape: [Int]) {
        self.dtype = dtype
        self.dims = shape.map(Dim.value)
    }

    public init(_ dtype: DType, dims: [Dim]?) {
        self.dtype = dtype
        self.dims = dims
    }

    /// Every dimension known.
    public var staticShape: [Int]? {
        guard let dims else { return nil }
        var s: [Int] = []
        s.reserveCapacity(dims.count)
        for d in dims {
            guard case .value(let v) = d else { return nil }
            s.append(v)
        }
        return s
    }
    public var isStatic: Bool { staticShape != nil }

    /// The shape of a static type. Code that may see a dynamic type reads `staticShape` or `dims`;
    /// here an unknown dimension reads as -1 and an unknown rank as no dimensions.
    public var shape: [Int] { dims?.map { $0.value ?? -1 } ?? [] }
    public var count: Int { shape.reduce(1, *) }
    /// The rank, or nil when unknown.
    public var rank: Int { dims?.count ?? -1 }

    public var description: String {
        guard let dims else { return "\(dtype.rawValue)[*]" }
        return "\(dtype.rawValue)[\(dims.map(\.description).joined(separator: ","))]"
    }
}

/// Constant or runtime tensor data. Exactly one array holds the data, chosen by `dtype.storage`:
/// `floats` (float32, float16), `doubles` (float64) or `ints` (integers and bool, each value within
/// its type's range). Arrays are copy-on-write, so passing tensors around is cheap.
public struct Tensor: Sendable, Equatable {
    public var dtype: DType
    public var shape: [Int]
    public var floats: [Float]
    public var doubles: [Double]
    public var ints: [Int64]

    /// A float32 (or, with `dtype: .float16`, float16: values rounded to it) tensor.
    public init(shape: [Int], floats: [Float], dtype: DType = .float32) {
        precondition(shape.reduce(1, *) == floats.count, "tensor shape \(shape) does not hold \(floats.count) floats")
        precondition(dtype.storage == .floats, "\(dtype) is not held as floats")
        self.dtype = dtype
        self.shape = shape
        self.floats = dtype == .float16 ? floats.map { Float(Float16($0)) } : floats
        self.doubles = []
        self.ints = []
    }

    public init(shape: [Int], doubles: [Double]) {
        precondition(shape.reduce(1, *) == doubles.count, "tensor shape \(shape) does not hold \(doubles.count) doubles")
        self.dtype = .float64
        self.shape = shape
        self.floats = []
        self.doubles = doubles
        self.ints = []
    }

    /// An integer or boolean tensor; values are wrapped to the type's width.
    public init(shape: [Int], ints: [Int64], dtype: DType = .int64) {
        precondition(shape.reduce(1, *) == ints.count, "tensor shape \(shape) does not hold \(ints.count) ints")
        precondition(dtype.storage == .ints, "\(dtype) is not held as ints")
        self.dtype = dtype
        self.shape = shape
        self.floats = []
        self.doubles = []
        self.ints = dtype == .int64 || dtype == .uint64 ? ints : ints.map(dtype.wrap)
    }

    /// A float tensor of `dtype` (float32, float16 or float64) from Double values, rounded once.
    public init(shape: [Int], values: [Double], dtype: DType) {
        switch dtype.storage {
        case .doubles: self.init(shape: shape, doubles: values)
        case .floats: self.init(shape: shape, floats: values.map { Float($0) }, dtype: dtype)
        case .ints: preconditionFailure("Tensor(values:) makes float tensors; \(dtype) is an integer type")
        }
    }

    public static func scalar(_ v: Float) -> Tensor { Tensor(shape: [], floats: [v]) }
    public static func vector(_ v: [Int]) -> Tensor { Tensor(shape: [v.count], ints: v.map(Int64.init)) }
    public static func vector(_ v: [Float]) -> Tensor { Tensor(shape: [v.count], floats: v) }
    public static func zeros(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, floats: [Float](repeating: 0, count: shape.reduce(1, *)))
    }
    /// A tensor of `shape` whose every element is the first element of `value` (same type).
    public static func repeating(_ value: Tensor, _ shape: [Int]) -> Tensor {
        value.gathered([Int](repeating: 0, count: shape.reduce(1, *)), shape: shape)
    }

    public var type: TensorType { TensorType(dtype, shape) }
    public var count: Int { shape.reduce(1, *) }
    public var isFloat: Bool { dtype.isFloat }

    /// Integer view of the data (floats truncated, non-finite or out-of-range ones clamped), for shape-like inputs.
    public var intValues: [Int] {
        switch dtype.storage {
        case .floats: return floats.map { $0.isNaN ? 0 : Int(max(min($0, 1e18), -1e18)) }
        case .doubles: return doubles.map { $0.isNaN ? 0 : Int(max(min($0, 1e18), -1e18)) }
        case .ints: return ints.map { Int($0) }
        }
    }
    /// Float view of the data, for mixed arithmetic.
    public var floatValues: [Float] {
        switch dtype.storage {
        case .floats: return floats
        case .doubles: return doubles.map { Float($0) }
        case .ints: return dtype == .uint64 ? ints.map { Float(UInt64(bitPattern: $0)) } : ints.map { Float($0) }
        }
    }
    /// Double view of the data (exact for every type but uint64 above 2^53 and int64 beyond 2^53).
    public var doubleValues: [Double] {
        switch dtype.storage {
        case .floats: return floats.map { Double($0) }
        case .doubles: return doubles
        case .ints: return dtype == .uint64 ? ints.map { Double(UInt64(bitPattern: $0)) } : ints.map { Double($0) }
        }
    }

    public func reshaped(_ newShape: [Int]) -> Tensor {
        var t = self
        t.shape = newShape
        return t
    }

    /// The elements at `indices` (flat positions into this tensor), as a tensor of `shape`.
    public func gathered(_ indices: [Int], shape: [Int]) -> Tensor {
        var t = self
        t.shape = shape
        switch dtype.storage {
        case .floats: t.floats = indices.map { floats[$0] }
        case .doubles: t.doubles = indices.map { doubles[$0] }
        case .ints: t.ints = indices.map { ints[$0] }
        }
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

/// A float converted to an integer type as Cast does: truncated toward zero. nil where ONNX leaves the
/// result undefined (NaN, infinities, values outside the target type), which the caller refuses.
@inline(__always)
public func castToInteger(_ v: Double, _ dtype: DType) -> Int64? {
    if dtype == .bool { return v != 0 ? 1 : 0 }
    guard v.isFinite else { return nil }
    let t = v.rounded(.towardZero)
    if dtype == .uint64 { return UInt64(exactly: t).map { Int64(bitPattern: $0) } }
    guard let i = Int64(exactly: t), dtype.wrap(i) == i else { return nil }
    return i
}
