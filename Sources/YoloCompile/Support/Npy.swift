import Foundation

/// NumPy .npy files (format 1.0-3.0): every element type the IR has, read in their own type (C or
/// Fortran order, either byte order) and written C-ordered and little-endian.
public enum Npy {
    public static func read(file path: String) throws -> Tensor {
        try decode([UInt8](try InputFiles.read(path, expected: "a .npy file") { InputError(file: path, $0) }), file: path)
    }

    /// A .npy file's bytes.
    public static func decode(_ b: [UInt8], file path: String) throws -> Tensor {
        guard b.count >= 10, b[0] == 0x93, Array(b[1...5]) == Array("NUMPY".utf8) else {
            throw InputError(file: path, "is not a .npy file (no \\x93NUMPY magic)")
        }
        let major = b[6]
        let headerLength: Int, start: Int
        if major == 1 {
            headerLength = Int(b[8]) | Int(b[9]) << 8
            start = 10
        } else {
            guard b.count >= 12 else { throw InputError(file: path, "truncated .npy header") }
            headerLength = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24
            start = 12
        }
        guard b.count >= start + headerLength else { throw InputError(file: path, "truncated .npy header") }
        let header = String(decoding: b[start..<(start + headerLength)], as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descrField = field("descr"), let q1 = descrField.firstIndex(of: "'"),
              let q2 = descrField[descrField.index(after: q1)...].firstIndex(of: "'")
        else { throw InputError(file: path, "the .npy header has no descr") }
        let descr = String(descrField[descrField.index(after: q1)..<q2])
        let fortran = field("fortran_order")?.hasPrefix("True") == true
        guard let shapeField = field("shape"), let open = shapeField.firstIndex(of: "("),
              let close = shapeField[open...].firstIndex(of: ")") else {
            throw InputError(file: path, "the .npy header has no shape")
        }
        let dims = shapeField[shapeField.index(after: open)..<close].split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let shape = dims.compactMap { Int($0) }
        guard shape.count == dims.count, shape.allSatisfy({ $0 >= 0 }), let count = ShapeRules.elementCount(shape) else {
            throw InputError(file: path, "the .npy header has an invalid shape (\(dims.joined(separator: ", ")))")
        }
        let body = start + headerLength
        // '>' is big-endian: the same types with their bytes reversed.
        let bigEndian = descr.hasPrefix(">")
        let littleDescr = bigEndian ? "<" + descr.dropFirst() : descr
        guard let dtype = dtypes[littleDescr] ?? (descr == "|b1" ? .bool : nil) else {
            throw InputError(file: path, "unsupported dtype \(descr) (expected a float, integer or bool array: <f4, <f2, <f8, |i1 ... <i8, |u1 ... <u8, |b1, or '>' for big-endian)")
        }
        guard b.count - body >= count * dtype.byteSize else {
            throw InputError(file: path, "holds \((b.count - body) / dtype.byteSize) values, shape \(shape) needs \(count)")
        }
        var bytes = Array(b[body..<(body + count * dtype.byteSize)])
        if bigEndian && dtype.byteSize > 1 {
            let w = dtype.byteSize
            for i in stride(from: 0, to: bytes.count, by: w) { bytes[i..<(i + w)].reverse() }
        }
        // A Fortran-order array is the C-order array of the reversed shape, transposed.
        let stored = bytes.withUnsafeBytes { decodeExact($0, dtype: dtype, shape: fortran ? shape.reversed() : shape) }
        guard fortran, shape.count > 1 else { return stored.reshaped(shape) }
        let src = contiguousStrides(stored.shape)
        return stored.strided(shape: shape, offset: 0, steps: (0..<shape.count).map { src[shape.count - 1 - $0] })
    }

    /// numpy's descr for each element type (one byte types have no byte order).
    static let dtypes: [String: DType] = [
        "<f4": .float32, "<f2": .float16, "<f8": .float64, "|i1": .int8, "<i1": .int8, "<i2": .int16, "<i4": .int32,
        "<i8": .int64, "|u1": .uint8, "<u1": .uint8, "<u2": .uint16, "<u4": .uint32, "<u8": .uint64,
    ]

    static func descr(_ d: DType) -> String {
        switch d {
        case .float32: return "<f4"
        case .float16: return "<f2"
        case .float64: return "<f8"
        case .int8: return "|i1"
        case .int16: return "<i2"
        case .int32: return "<i4"
        case .int64: return "<i8"
        case .uint8: return "|u1"
        case .uint16: return "<u2"
        case .uint32: return "<u4"
        case .uint64: return "<u8"
        case .bool: return "|b1"
        }
    }

    /// A .npy file (format 1.0) holding `t` in its own element type.
    public static func encode(_ t: Tensor) -> [UInt8] {
        let dims = t.shape.map(String.init).joined(separator: ", ") + (t.shape.count == 1 ? "," : "")
        var header = "{'descr': '\(descr(t.dtype))', 'fortran_order': False, 'shape': (\(dims)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        out += Array(header.utf8)
        out += encodeExact(t)
        return out
    }

    public static func write(_ t: Tensor, to path: String) throws { try write([(t, path)]) }

    /// Several arrays, all written or none (see `OutputFiles`).
    public static func write(_ arrays: [(Tensor, String)]) throws {
        try OutputFiles.write(arrays.map { t, path in
            (path, { f in
                let bytes = encode(t)
                _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
            })
        })
    }
}
