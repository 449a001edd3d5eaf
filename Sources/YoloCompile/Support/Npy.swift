import Foundation

/// NumPy .npy files (format 1.0-3.0): float32, float16, float64 and int64, C order, little-endian.
public enum Npy {
    public static func read(file path: String) throws -> Tensor {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            throw InputError(file: path, isDir.boolValue ? "is a directory, expected a .npy file" : "no such file")
        }
        guard let d = FileManager.default.contents(atPath: path) else { throw InputError(file: path, "cannot read the file") }
        let b = [UInt8](d)
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
        if field("fortran_order")?.hasPrefix("True") == true { throw InputError(file: path, "Fortran-order arrays are not supported") }
        guard let shapeField = field("shape"), let open = shapeField.firstIndex(of: "("), let close = shapeField.firstIndex(of: ")") else {
            throw InputError(file: path, "the .npy header has no shape")
        }
        let dims = shapeField[shapeField.index(after: open)..<close].split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let shape = dims.compactMap { Int($0) }
        guard shape.count == dims.count, shape.allSatisfy({ $0 >= 0 }), let count = ShapeRules.elementCount(shape) else {
            throw InputError(file: path, "the .npy header has an invalid shape (\(dims.joined(separator: ", ")))")
        }
        let body = start + headerLength
        let width: Int
        switch descr {
        case "<f4", "<i4": width = 4
        case "<f2": width = 2
        case "<f8", "<i8": width = 8
        default: throw InputError(file: path, "unsupported dtype \(descr) (expected <f4, <f2, <f8, <i4 or <i8)")
        }
        guard b.count - body >= count * width else {
            throw InputError(file: path, "holds \((b.count - body) / width) values, shape \(shape) needs \(count)")
        }
        return b.withUnsafeBytes { raw in
            let p = UnsafeRawBufferPointer(rebasing: raw[body...])
            switch descr {
            case "<f4": return Tensor(shape: shape, floats: (0..<count).map { p.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) })
            case "<f2": return Tensor(shape: shape, floats: (0..<count).map { Float(halfBits: p.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) })
            case "<f8": return Tensor(shape: shape, floats: (0..<count).map { Float(p.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self)) })
            case "<i4": return Tensor(shape: shape, ints: (0..<count).map { Int64(p.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) }, dtype: .int32)
            default: return Tensor(shape: shape, ints: (0..<count).map { p.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self) })
            }
        }
    }

    public static func encode(_ t: Tensor) -> [UInt8] {
        let descr = t.isFloat ? "<f4" : "<i8"
        let dims = t.shape.map(String.init).joined(separator: ", ") + (t.shape.count == 1 ? "," : "")
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(dims)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        out += Array(header.utf8)
        if t.isFloat { t.floats.withUnsafeBytes { out += $0 } } else { t.ints.withUnsafeBytes { out += $0 } }
        return out
    }

    public static func write(_ t: Tensor, to path: String) throws {
        do { try writeAtomically(encode(t), to: path) } catch let e as OnnxError { throw InputError(file: path, e.message) }
    }
}
