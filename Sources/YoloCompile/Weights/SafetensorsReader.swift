import Foundation

/// safetensors: an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape
/// and byte range, then the data. The file is memory-mapped; a tensor is decoded only when bound.
/// Every claim of the header is checked against the file before any tensor is read.
public enum SafetensorsReader {
    public static func open(_ path: String) throws -> WeightStore {
        try InputFiles.checkRegular(path, expected: "a safetensors file") { WeightsError(file: path, $0) }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw WeightsError(file: path, "cannot read the file")
        }
        return try read(data: data, file: path)
    }

    /// A safetensors file held in memory (or mapped).
    public static func read(data: Data, file path: String) throws -> WeightStore {
        guard data.count >= 8 else { throw WeightsError(file: path, "is too short for a safetensors header") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw WeightsError(file: path, "safetensors header claims \(headerLength) bytes, the file has \(data.count - 8) after the length")
        }
        let start = 8 + Int(headerLength)
        guard let json = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<start)), let header = json as? [String: Any] else {
            throw WeightsError(file: path, "safetensors header is not a JSON object")
        }
        let store = WeightStore(file: path, format: "safetensors")
        let dataSize = data.count - start
        var ranges: [(Int, Int, String)] = []
        for name in header.keys.sorted() where name != "__metadata__" {
            func lie(_ m: String) -> WeightsError { WeightsError(file: path, "tensor \(name): \(m)") }
            guard let info = header[name] as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2
            else { throw lie("header entry must have dtype, shape and data_offsets") }
            guard let size = dtypeByteSize(dtype) else { throw lie("unsupported dtype \(dtype)") }
            guard let count = ShapeRules.elementCount(shape) else { throw lie("invalid shape \(shape)") }
            let (b, e) = (offsets[0], offsets[1])
            guard b >= 0, e >= b, e <= dataSize else {
                throw lie("data_offsets [\(b), \(e)] fall outside the \(dataSize) data bytes")
            }
            let need = MemoryLimit.byteCount(count, elementSize: size)
            guard e - b == need else {
                throw lie("shape \(shape) of \(dtype) needs \(need == Int.max ? "more than 2^63" : String(need)) bytes, data_offsets give \(e - b)")
            }
            ranges.append((b, e, name))
            store.add(name, WeightEntry(shape: shape, dtype: dtype, loader: {
                try data.withUnsafeBytes { raw in
                    guard let t = decodeTensor(UnsafeRawBufferPointer(rebasing: raw[(start + b)..<(start + e)]), dtype: dtype, shape: shape) else {
                        throw lie("unsupported dtype \(dtype)")
                    }
                    return t
                }
            }))
        }
        ranges.sort { $0.0 < $1.0 }
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.0 < a.1 {
            throw WeightsError(file: path, "tensor \(b.2): its bytes overlap tensor \(a.2)'s")
        }
        return store
    }
}
