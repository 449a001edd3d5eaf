import Foundation

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
        let head = try InputFiles.head(path, 16, expected: "a weights file") { WeightsError(file: path, $0) }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) {
            return try TorchCheckpointReader.open(path)
        }
        // safetensors: an 8-byte header length, then the JSON header. Checked before the legacy magic,
        // since a header length may begin with any byte.
        if head.count >= 9, head[8] == UInt8(ascii: "{") {
            return try SafetensorsReader.open(path)
        }
        // The legacy format begins with a pickled magic number: PROTO 2, LONG1 0x1950a86a20f9469cfc6c.
        if head.starts(with: [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]) {
            throw WeightsError(file: path, "is a legacy (pre-1.6) torch.save file; resave it in PyTorch with torch.save(obj, path) (the zip format, default since 1.6)")
        }
        throw WeightsError(file: path, "is neither safetensors nor a PyTorch checkpoint (zip)")
    }
}

