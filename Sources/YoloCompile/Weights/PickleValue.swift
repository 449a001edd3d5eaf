/// What a pickle holds, as data. Nothing is imported or run: classes become `PyObject`s that keep
/// their constructor arguments and state, known tensor-rebuild functions become `TorchTensor`s.
public indirect enum PickleValue: CustomStringConvertible {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PyList)
    case dict(PyDict)
    case object(PyObject)
    /// A module attribute referenced but not called (`torch.float16`, a class passed as a value).
    case global(String)
    case storage(TorchStorage)
    case tensor(TorchTensor)

    public var description: String {
        switch self {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .float(let d): return String(d)
        case .string(let s): return "'\(s)'"
        case .bytes(let b): return "b<\(b.count) bytes>"
        case .tuple(let t): return "(" + t.map(\.description).joined(separator: ", ") + ")"
        case .list(let l): return "[" + l.items.map(\.description).joined(separator: ", ") + "]"
        case .dict(let d): return "{" + d.entries.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        case .object(let o): return "<\(o.className)>"
        case .global(let g): return g
        case .storage(let s): return "<storage \(s.key)>"
        case .tensor(let t): return "<tensor \(t.shape)>"
        }
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var dict: PyDict? { if case .dict(let d) = self { return d }; return nil }
    public var object: PyObject? { if case .object(let o) = self { return o }; return nil }

    /// The items of a list, tuple or set.
    public var items: [PickleValue]? {
        switch self {
        case .list(let l): return l.items
        case .tuple(let t): return t
        default: return nil
        }
    }
}

/// A Python list (or set): a reference, because pickles append to memoised lists.
public final class PyList {
    public var items: [PickleValue]
    init(_ items: [PickleValue] = []) { self.items = items }
}

/// A Python dict, in insertion order.
public final class PyDict {
    public private(set) var entries: [(key: PickleValue, value: PickleValue)] = []
    private var index: [String: Int] = [:]

    public func set(_ k: PickleValue, _ v: PickleValue) {
        if case .string(let s) = k, let i = index[s] { entries[i].value = v; return }
        if case .string(let s) = k { index[s] = entries.count }
        entries.append((k, v))
    }

    public subscript(_ key: String) -> PickleValue? { index[key].map { entries[$0].value } }
}

/// An instance of a class the reader does not know: its class path, constructor arguments and state.
public final class PyObject {
    public let className: String
    public let arguments: [PickleValue]
    public var state: PickleValue = .none

    init(className: String, arguments: [PickleValue]) {
        self.className = className
        self.arguments = arguments
    }

    /// An attribute from the pickled `__dict__` state.
    public subscript(_ name: String) -> PickleValue? {
        if let d = state.dict { return d[name] }
        if case .tuple(let t) = state, let d = t.first?.dict { return d[name] }
        return nil
    }
}

/// A storage a tensor views: a `data/KEY` entry of the checkpoint zip.
public struct TorchStorage {
    public var key: String
    public var dtype: TorchDType
    public var count: Int
}

/// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`.
public struct TorchTensor {
    public var storage: TorchStorage
    public var offset: Int
    public var shape: [Int]
    public var strides: [Int]
}

/// Element types of torch storages.
public enum TorchDType: String, Sendable {
    case float32 = "F32", float16 = "F16", bfloat16 = "BF16", float64 = "F64"
    case int64 = "I64", int32 = "I32", int16 = "I16", int8 = "I8", uint8 = "U8", bool = "BOOL"

    public var byteSize: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    public var isFloat: Bool { [.float32, .float16, .bfloat16, .float64].contains(self) }

    /// From a storage class name (`FloatStorage`) as pickled by torch.save.
    init?(storageClass: String) {
        switch storageClass {
        case "FloatStorage": self = .float32
        case "HalfStorage": self = .float16
        case "BFloat16Storage": self = .bfloat16
        case "DoubleStorage": self = .float64
        case "LongStorage": self = .int64
        case "IntStorage": self = .int32
        case "ShortStorage": self = .int16
        case "CharStorage": self = .int8
        case "ByteStorage": self = .uint8
        case "BoolStorage": self = .bool
        default: return nil
        }
    }
}
