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
