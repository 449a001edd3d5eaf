import Foundation

/// An error reading a weights file: names the file and, where there is one, the tensor.
public struct WeightsError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var message: String
    public init(file: String, _ message: String) {
        self.file = file
        self.message = message
    }
    public var description: String { "\(file): \(message)" }
}

/// One named tensor in a weights file, read only when binding asks for it.
public struct WeightEntry {
    public var shape: [Int]
    /// The element type as the file stores it (F32, F16, BF16, I64, ...).
    public var dtype: String
    let loader: () throws -> Tensor
    /// Reads and decodes the tensor (float types widen to float32).
    public func load() throws -> Tensor { try loader() }
}

/// The tensors of a weights file by state_dict name, and what else the file says about the model.
public final class WeightStore {
    public let file: String
    /// "safetensors", "PyTorch state_dict" or "YOLOv5 checkpoint".
    public let format: String
    public private(set) var names: [String] = []
    private var entries: [String: WeightEntry] = [:]
    /// BatchNorm eps per module path (`model.0.bn`), where the file records it.
    public var batchNormEpsilon: [String: Float] = [:]
    /// The model config a checkpoint carries, as YAML text, and the config file's name.
    public var embeddedConfig: (yaml: String, name: String)?
    public var classNames: [String]?

    init(file: String, format: String) {
        self.file = file
        self.format = format
    }

    func add(_ name: String, _ entry: WeightEntry) {
        if entries[name] == nil { names.append(name) }
        entries[name] = entry
    }

    public subscript(_ name: String) -> WeightEntry? { entries[name] }

    /// Element types and how many tensors of each, e.g. "F16 x 288, I64 x 4".
    public var dtypeSummary: String {
        var counts: [String: Int] = [:]
        for e in names.compactMap({ entries[$0] }) { counts[e.dtype, default: 0] += 1 }
        return counts.sorted { $0.value > $1.value }.map { "\($0.key) x \($0.value)" }.joined(separator: ", ")
    }

    public var summary: String { "\(file) (\(format), \(names.count) tensors: \(dtypeSummary))" }

    /// Opens safetensors or a torch.save zip, by content.
    public static func open(_ path: String) throws -> WeightStore {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw WeightsError(file: path, "no such file") }
        guard !isDir.boolValue else { throw WeightsError(file: path, "is a directory, expected a weights file") }
        guard let h = FileHandle(forReadingAtPath: path) else { throw WeightsError(file: path, "cannot read the file") }
        let head = [UInt8](h.readData(ofLength: 16))
        try? h.close()
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) {
            return try TorchCheckpointReader.open(path)
        }
        if head.first == 0x80 {
            throw WeightsError(file: path, "is a legacy (pre-1.6) torch.save file; resave it in PyTorch with torch.save(obj, path) (the zip format, default since 1.6)")
        }
        if head.count >= 9, head[8] == UInt8(ascii: "{") {
            return try SafetensorsReader.open(path)
        }
        throw WeightsError(file: path, "is neither safetensors nor a PyTorch checkpoint (zip)")
    }
}

/// Converts raw little-endian elements to a float32 (or int64) tensor.
func decodeTensor(_ raw: UnsafeRawBufferPointer, dtype: String, shape: [Int]) -> Tensor? {
    let count = shape.reduce(1, *)
    switch dtype {
    case "F32": return Tensor(shape: shape, floats: (0..<count).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) })
    case "F16": return Tensor(shape: shape, floats: (0..<count).map { Float(halfBits: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) })
    case "BF16": return Tensor(shape: shape, floats: (0..<count).map {
        Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) << 16) })
    case "F64": return Tensor(shape: shape, floats: (0..<count).map { Float(raw.loadUnaligned(fromByteOffset: $0 * 8, as: Double.self)) })
    case "I64": return Tensor(shape: shape, ints: (0..<count).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self) })
    case "I32": return Tensor(shape: shape, ints: (0..<count).map { Int64(raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) })
    case "U8", "BOOL": return Tensor(shape: shape, ints: (0..<count).map { Int64(raw[$0]) })
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
