/// Converts raw little-endian elements (safetensors' dtype codes: F32, F16, BF16, F64, I64, I32, I16, I8,
/// U8, BOOL) to a float32 or int64 tensor. Shared by the ONNX, safetensors and torch readers; the caller
/// has checked that `raw` holds `shape`'s elements.
func decodeTensor(_ raw: UnsafeRawBufferPointer, dtype: String, shape: [Int]) -> Tensor? {
    let count = shape.reduce(1, *)
    switch dtype {
    case "F32": return Tensor(shape: shape, floats: (0..<count).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) })
    case "F16": return Tensor(shape: shape, floats: (0..<count).map { Float(halfBits: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) })
    case "BF16": return Tensor(shape: shape, floats: (0..<count).map {
        Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) << 16) })
    case "F64": return Tensor(shape: shape, floats: (0..<count).map { Float(raw.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self)) })
    case "I64": return Tensor(shape: shape, ints: (0..<count).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self) })
    case "I32": return Tensor(shape: shape, ints: (0..<count).map { Int64(raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }, dtype: .int32)
    case "U8": return Tensor(shape: shape, ints: (0..<count).map { Int64(raw[$0]) })
    case "BOOL": return Tensor(shape: shape, ints: (0..<count).map { Int64(raw[$0]) }, dtype: .bool)
    case "I8": return Tensor(shape: shape, ints: (0..<count).map { Int64(Int8(bitPattern: raw[$0])) })
    case "I16": return Tensor(shape: shape, ints: (0..<count).map { Int64(raw.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self)) })
    default: return nil
    }
}

func dtypeByteSize(_ dtype: String) -> Int? {
    switch dtype {
    case "F64", "I64", "U64": return 8
    case "F32", "I32", "U32": return 4
    case "F16", "BF16", "I16", "U16": return 2
    case "I8", "U8", "BOOL": return 1
    default: return nil
    }
}

/// Raw little-endian elements of `dtype`, exactly (no widening): what ONNX's raw_data holds. The
/// caller has checked that `raw` holds `shape`'s elements.
func decodeExact(_ raw: UnsafeRawBufferPointer, dtype: DType, shape: [Int]) -> Tensor {
    let n = shape.reduce(1, *)
    func load<T>(_ t: T.Type) -> [T] { (0..<n).map { raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self) } }
    switch dtype {
    case .float32: return Tensor(shape: shape, floats: load(Float.self))
    case .float16: return Tensor(shape: shape, floats: load(UInt16.self).map { Float(halfBits: $0) }, dtype: .float16)
    case .float64: return Tensor(shape: shape, doubles: load(Double.self))
    case .int8: return Tensor(shape: shape, ints: load(Int8.self).map(Int64.init), dtype: dtype)
    case .int16: return Tensor(shape: shape, ints: load(Int16.self).map(Int64.init), dtype: dtype)
    case .int32: return Tensor(shape: shape, ints: load(Int32.self).map(Int64.init), dtype: dtype)
    case .int64: return Tensor(shape: shape, ints: load(Int64.self), dtype: dtype)
    case .uint8: return Tensor(shape: shape, ints: load(UInt8.self).map(Int64.init), dtype: dtype)
    case .uint16: return Tensor(shape: shape, ints: load(UInt16.self).map(Int64.init), dtype: dtype)
    case .uint32: return Tensor(shape: shape, ints: load(UInt32.self).map(Int64.init), dtype: dtype)
    case .uint64: return Tensor(shape: shape, ints: load(UInt64.self).map { Int64(bitPattern: $0) }, dtype: dtype)
    case .bool: return Tensor(shape: shape, ints: load(UInt8.self).map { $0 != 0 ? 1 : 0 }, dtype: dtype)
    }
}

/// The little-endian bytes of a tensor's elements, in its own type (the inverse of `decodeExact`).
func encodeExact(_ t: Tensor) -> [UInt8] {
    func bytes<T>(_ v: [T]) -> [UInt8] { v.withUnsafeBytes { Array($0) } }
    switch t.dtype {
    case .float32: return bytes(t.floats)
    case .float16: return bytes(t.floats.map { Float16($0).bitPattern })
    case .float64: return bytes(t.doubles)
    case .int8: return bytes(t.ints.map { Int8(truncatingIfNeeded: $0) })
    case .int16: return bytes(t.ints.map { Int16(truncatingIfNeeded: $0) })
    case .int32: return bytes(t.ints.map { Int32(truncatingIfNeeded: $0) })
    case .int64, .uint64: return bytes(t.ints)
    case .uint8, .bool: return bytes(t.ints.map { UInt8(truncatingIfNeeded: $0) })
    case .uint16: return bytes(t.ints.map { UInt16(truncatingIfNeeded: $0) })
    case .uint32: return bytes(t.ints.map { UInt32(truncatingIfNeeded: $0) })
    }
}

extension Float {
    /// IEEE 754 half precision bits to single.
    public init(halfBits h: UInt16) { self = Float(Float16(bitPattern: h)) }
}
